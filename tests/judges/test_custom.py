"""The ``custom`` judge: an instructor's function beside the exercise gets the whole
JudgeContext and returns a Verdict or a (passed, message) pair; its reference is
checked when the course loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from judging import judge, plan_check, returned

from grader.course.schema import ExerciseError
from grader.judges.base import Unjudgeable

HELPERS = {
    "hidden/judges.py": """
    from grader.judges import Verdict
    from grader.sandbox.protocol.values import TensorValue


    def verdict(ctx):
        got = ctx.outputs.get("result")
        if not isinstance(got, TensorValue):
            return Verdict(False, "not a tensor")
        share = float((got.data > 0).float().mean())
        return Verdict(share == 1.0, f"{ctx.entry}: {share:.0%} positive", {"n": got.data.numel()},
                       fraction=share)


    def pair(ctx):
        return ctx.outputs.get("result") == ctx.opt("params")["want"], "compared with params"


    def loose(ctx):
        return [1], 42


    def sees(ctx):
        seen = {"expected": ctx.expected, "inputs": sorted(ctx.inputs), "data": sorted(ctx.data),
                "source": ctx.source, "discloses": ctx.discloses("expected")}
        return True, repr(seen)


    def broken(ctx):
        raise ValueError("the instructor's bug")
"""
}
# The line of `raise` in hidden/judges.py as written (the text is dedented, its first
# line left empty).
BROKEN_LINE = (
    HELPERS["hidden/judges.py"]
    .split("\n")
    .index('        raise ValueError("the instructor\'s bug")')
    + 1
)
CHECK = """
judge: custom
call: [{randn: [4]}]
"""


def check(tmp_path: Path, function: str, extra: str = "", files: dict | None = None):
    return plan_check(
        tmp_path,
        CHECK + f"with: {{function: 'hidden/judges.py:{function}'{extra}}}",
        files=HELPERS if files is None else files,
    )


def test_a_returned_verdict_is_used_as_it_is(tmp_path: Path):
    pc = check(tmp_path, "verdict")
    v = judge(pc, returned(result=torch.tensor([1.0, 2.0, -1.0, 3.0])))
    assert not v.passed and v.fraction == 0.75
    assert v.message == "f: 75% positive" and v.details == {"n": 4}
    v = judge(pc, returned(result=torch.ones(4)))
    assert v.passed and v.fraction == 1.0


def test_a_value_of_another_kind_is_the_functions_to_judge(tmp_path: Path):
    pc = check(tmp_path, "verdict")
    assert judge(pc, returned(result=[1.0])).message == "not a tensor"
    assert judge(pc, {}).message == "not a tensor"


def test_a_pair_becomes_a_verdict_with_params(tmp_path: Path):
    pc = check(tmp_path, "pair", ", params: {want: 3}")
    assert pc.spec.options["params"] == {"want": 3}
    v = judge(pc, returned(result=3))
    assert v.passed and v.message == "compared with params" and v.fraction is None
    assert not judge(pc, returned(result=4)).passed


def test_a_pair_of_other_types_is_made_bool_and_text(tmp_path: Path):
    v = judge(check(tmp_path, "loose"), {})
    assert v.passed is True and v.message == "42"


def test_the_function_sees_the_whole_context(tmp_path: Path):
    pc = check(tmp_path, "sees")
    assert not pc.needs_solution
    v = judge(pc, returned(result=1), expected={"result": 2}, source="def f(): pass")
    assert v.message == repr(
        {
            "expected": {"result": 2},
            "inputs": [],
            "data": [],
            "source": "def f(): pass",
            "discloses": False,
        }
    )


def test_solution_option_asks_for_the_reference_run(tmp_path: Path):
    assert check(tmp_path, "sees", ", solution: true").needs_solution


def test_an_error_in_the_function_is_the_checks_error_at_the_helpers_line(tmp_path: Path):
    # Unjudgeable: the check is an error (not a failure the student takes for their own),
    # and the message names the line of the instructor's helper that raised.
    with pytest.raises(Unjudgeable) as info:
        judge(check(tmp_path, "broken"), {})
    assert str(info.value) == (
        "f: this check could not be judged: the course's judge failed at "
        f"exercises/hidden/judges.py:{BROKEN_LINE} (ValueError: the instructor's bug); "
        "an error in the course, not in your code"
    )


OTHER_FAILURES = {
    "hidden/judges.py": """
    import sys

    from grader.judges import Unjudgeable

    sys.path.insert(0, __file__.rsplit("/", 3)[0])  # the course folder, outside exercises/
    import course_lib


    def undecided(ctx):
        raise Unjudgeable("f: too large to judge")


    def deeper(ctx):
        return course_lib.judge_it(ctx)


    def nothing(ctx):
        return None
    """,
    "../course_lib.py": """
    def judge_it(ctx):
        return {}["missing"]
    """,
}


def test_the_judges_own_unjudgeable_keeps_its_message(tmp_path: Path):
    with pytest.raises(Unjudgeable, match=r"^f: too large to judge$"):
        judge(check(tmp_path, "undecided", files=OTHER_FAILURES), {})


def test_the_line_named_is_the_deepest_under_the_exercises_folder(tmp_path: Path):
    # course_lib.py lies in the course folder but outside exercises/ (as the grader's own
    # code does for the bundled course): the helper's call is the line named.
    with pytest.raises(Unjudgeable) as info:
        judge(check(tmp_path, "deeper", files=OTHER_FAILURES), {})
    line = (
        OTHER_FAILURES["hidden/judges.py"]
        .split("\n")
        .index("        return course_lib.judge_it(ctx)")
    )
    said = f"the course's judge failed at exercises/hidden/judges.py:{line + 1} (KeyError: "
    assert said in str(info.value)


def test_a_judge_returning_neither_verdict_nor_pair(tmp_path: Path):
    with pytest.raises(Unjudgeable) as info:
        judge(check(tmp_path, "nothing", files=OTHER_FAILURES), {})
    assert "failed in hidden/judges.py:nothing (TypeError: cannot unpack" in str(info.value)


@pytest.mark.parametrize(
    "option, files, words",
    [
        ("{params: 1}", HELPERS, "key 'function': required in 'with' but missing"),
        (
            "{function: judges}",
            HELPERS,
            "key 'function': expected 'path/to/file.py:function', got 'judges'",
        ),
        (
            "{function: 'hidden/none.py:f'}",
            HELPERS,
            "key 'function': no file hidden/none.py beside the exercise",
        ),
        (
            "{function: 'hidden/judges.py:nothing'}",
            HELPERS,
            "key 'function': hidden/judges.py defines no function 'nothing'",
        ),
        (
            "{function: 'hidden/bad.py:f'}",
            {"hidden/bad.py": "def f(:\n"},
            r"key 'function': hidden/bad.py could not be imported \(line 1\): SyntaxError",
        ),
        (
            "{function: 'hidden/judges.py:pair', solution: 1}",
            HELPERS,
            "key 'solution': expected true or false",
        ),
        ("{function: 'hidden/judges.py:pair', param: 1}", HELPERS, "key 'param': unknown key"),
    ],
)
def test_options_are_validated_at_load(tmp_path: Path, option: str, files: dict, words: str):
    with pytest.raises(ExerciseError, match=words):
        plan_check(tmp_path, CHECK + f"with: {option}", files=files)
