"""The ``expect`` judge on hand-made outputs: checks that state their expectation
directly (``expect:``, ``that:``, ``cases:``), loaded from YAML by the real loader and
planner, the student's values decoded as the grader decodes them; and the mistakes in
those keys, reported at file:line when the course loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from judging import judge, plan_check, returned

from grader.course.schema import ExerciseError
from grader.judges import Verdict
from grader.sandbox.protocol.values import Raised

# The line of the check's own first line in the exercise tests/judging.py writes (after
# its name, entry and points); a mistake's line is given from there, counting from 0.
FIRST = 13


def verdict(tmp_path: Path, yaml: str, **values: Any) -> Verdict:
    return judge(plan_check(tmp_path, yaml), returned(**values))


# ------------------------------------------------------------------ a literal
def test_a_literal_number(tmp_path: Path) -> None:
    pc = plan_check(tmp_path, "call: [2.0]\nexpect: 4.0")
    assert pc.spec.judge == "expect" and not pc.needs_solution
    assert pc.probe is not None and pc.probe.keep == ["result"]
    v = judge(pc, returned(result=4.0))
    assert v.passed and v.message == "f returned 4, as expected"
    assert judge(pc, returned(result=4)).passed  # a number is a number
    assert judge(pc, returned(result=4.00001)).passed  # rtol 1e-4, atol 1e-5 by default
    assert judge(pc, returned(result=torch.tensor(4.0))).passed  # as `x == 4.0` reads it
    v = judge(pc, returned(result=3.0))
    assert not v.passed and v.message == "f: got 3, which is not the expected value"
    for wrong, words in (
        (True, "f: expected a number; got the bool True"),
        ("4", "f: expected a number; got the string '4'"),
        (torch.zeros(2), "f: expected a number; got a float32 tensor of shape [2]"),
    ):
        assert judge(pc, returned(result=wrong)).message == words


def test_the_expected_value_is_shown_when_the_check_discloses_it(tmp_path: Path) -> None:
    v = verdict(tmp_path, "call: [2.0]\nexpect: 4.0\ndisclose: [expected]", result=3.5)
    assert v.message == "f: expected 4; got 3.5"


def test_tolerances(tmp_path: Path) -> None:
    yaml = "judge: expect\ncall: []\nexpect: 1.0\nwith: {atol: 0.1, rtol: 0.0}"
    assert verdict(tmp_path / "a", yaml, result=1.09).passed
    assert not verdict(tmp_path / "b", yaml, result=1.11).passed
    nan = "call: []\nexpect: .nan"
    assert verdict(tmp_path / "c", nan, result=float("nan")).passed
    assert not verdict(tmp_path / "d", nan, result=0.0).passed


def test_text_truth_and_none_compare_exactly(tmp_path: Path) -> None:
    yaml = "call: []\nexpect: [ok, true, null, 3]\ndisclose: [expected]"
    assert verdict(tmp_path / "a", yaml, result=("ok", True, None, 3)).passed
    v = verdict(tmp_path / "b", yaml, result=["OK", 1, 0, 3])
    assert v.message == (
        "f: result[0]: expected 'ok'; got 'OK'; result[1]: expected True; got the int 1; "
        "result[2]: expected None; got the int 0"
    )
    v = verdict(tmp_path / "c", yaml, result=["ok", True])
    assert v.message == "f: expected 4 items; got 2"


def test_a_list_accepts_a_tensor_of_its_shape(tmp_path: Path) -> None:
    yaml = "call: []\nexpect: [[1, 2], [3, 4]]\ndisclose: [expected]"
    assert verdict(tmp_path / "a", yaml, result=torch.tensor([[1.0, 2.0], [3.0, 4.0]])).passed
    assert verdict(tmp_path / "b", yaml, result=torch.tensor([[1, 2], [3, 4]])).passed
    v = verdict(tmp_path / "c", yaml, result=torch.tensor([[1.0, 2.0], [3.0, 5.0]]))
    assert v.message == "f: expected [[1, 2], [3, 4]]; got tensor([[1, 2], [3, 5]])"
    v = verdict(tmp_path / "d", yaml, result=torch.zeros(4))
    assert v.message == "f: expected shape [2, 2]; got a float32 tensor of shape [4]"
    hidden = "call: []\nexpect: [1, 2]"
    v = verdict(tmp_path / "e", hidden, result=torch.tensor([1.0, 3.0]))
    assert v.message == (
        "f: values differ from the expected ones at 1 of 2 positions, e.g. at [1], where yours is 3"
    )


def test_a_tensor_literal_is_strict(tmp_path: Path) -> None:
    yaml = "call: []\nexpect: {tensor: [1, 2], dtype: int64}\ndisclose: [expected]"
    assert verdict(tmp_path / "a", yaml, result=torch.tensor([1, 2])).passed
    v = verdict(tmp_path / "b", yaml, result=torch.tensor([1.0, 2.0]))
    assert v.message == "f: dtype is float32; expected int64; the values are right"
    v = verdict(tmp_path / "c", yaml, result=[1, 2])
    assert v.message == "f: got a list of 2 items; expected a tensor; its values are right"


def test_a_dict_literal(tmp_path: Path) -> None:
    yaml = "call: []\nexpect: {dict: {a: 1, b: [2.0]}}\ndisclose: [expected]"
    assert verdict(tmp_path / "a", yaml, result={"a": 1, "b": [2.0]}).passed
    v = verdict(tmp_path / "b", yaml, result={"a": 2, "c": 0})
    assert v.message == ("f: missing keys 'b'; unexpected keys 'c'; result['a']: expected 1; got 2")
    assert verdict(tmp_path / "c", yaml, result=[1]).message == (
        "f: expected a dict; got a list of 1 items"
    )


def test_a_check_states_null_apart_from_nothing(tmp_path: Path) -> None:
    import copy

    from grader.course.expectations import NO_VALUE

    pc = plan_check(tmp_path, "call: []\nexpect: null")
    assert pc.spec.expectation is not None and pc.spec.expectation.expects
    assert judge(pc, returned(result=None)).passed and not judge(pc, returned(result=0)).passed
    assert copy.deepcopy(pc.spec.expectation).expects  # a copy keeps the one sentinel
    assert copy.deepcopy(NO_VALUE) is NO_VALUE


def test_the_output_option_names_the_kept_value(tmp_path: Path) -> None:
    yaml = """
steps:
  - call: f
    as: y
with: {output: y}
expect: 1
"""
    assert verdict(tmp_path, yaml, y=1).passed


# ------------------------------------------------------------------ a predicate
def test_a_predicate(tmp_path: Path) -> None:
    pc = plan_check(tmp_path, "call: []\nthat: result < 0.05")
    v = judge(pc, returned(result=0.01))
    assert v.passed and v.message == "f: result < 0.05, as expected"
    v = judge(pc, returned(result=0.31))
    assert not v.passed and v.message == "f: expected result < 0.05; got 0.31"
    v = judge(pc, returned(result="0.01"))
    assert not v.passed and v.message == (
        "f: expected result < 0.05, which cannot be evaluated on your value: "
        "cannot compare the string '0.01' with the float 0.05"
    )


def test_a_predicate_over_the_values_steps_keep(tmp_path: Path) -> None:
    yaml = """
steps:
  - call: f
    as: model
  - method: loss
    on: model
    as: mse
that: "isinstance(model, nn.Linear) and mse < 0.05"
"""
    pc = plan_check(tmp_path, yaml)
    assert judge(pc, returned(model=torch.nn.Linear(1, 1), mse=0.01)).passed
    v = judge(pc, returned(model=torch.nn.Linear(1, 1), mse=0.5))
    assert v.message == "f: expected isinstance(model, nn.Linear) and mse < 0.05; got mse = 0.5"


def test_a_literal_and_a_predicate_both_hold(tmp_path: Path) -> None:
    yaml = "call: []\nexpect: [1, 2]\nthat: len(result) == 2 and isinstance(result, tuple)"
    assert verdict(tmp_path / "a", yaml, result=(1, 2)).passed
    v = verdict(tmp_path / "b", yaml, result=[1, 2])
    assert v.message == ("f: expected len(result) == 2 and isinstance(result, tuple); got [1, 2]")


# ------------------------------------------------------------------ a table
TABLE = """
disclose: [inputs, expected]
cases:
  - [2.0, 4.0]
  - [0.0, 0.0]
  - {args: [-1.5], expect: -3.0}
  - {args: [{tensor: [1.0, 2.0]}], kwargs: {scale: 2}, that: "result.shape == (2,)"}
"""


def test_a_table_calls_the_entry_point_once_per_row(tmp_path: Path) -> None:
    pc = plan_check(tmp_path, TABLE)
    assert pc.probe is not None
    assert [(s["do"], s["target"], s["as"], s["catch"]) for s in pc.probe.steps] == [
        ("call", "f", f"case_{n}", True) for n in range(1, 5)
    ]
    assert pc.probe.steps[3]["kwargs"] == {"scale": {"t": "int", "v": 2}}
    assert pc.probe.keep == ["case_1", "case_2", "case_3", "case_4"]
    v = judge(pc, returned(case_1=4.0, case_2=0.0, case_3=-3.0, case_4=torch.tensor([2.0, 4.0])))
    assert v.passed and v.fraction is None and v.message == "f: all 4 cases as expected"


def test_a_table_names_every_failing_row(tmp_path: Path) -> None:
    pc = plan_check(tmp_path, TABLE)
    v = judge(
        pc,
        returned(
            case_1=4.0,
            case_2=float("nan"),
            case_3=Raised("ValueError", "no slope here"),
            case_4=torch.zeros(3),
        ),
    )
    assert not v.passed and v.fraction is None
    assert v.message == (
        "f: 3 of 4 cases fail: f(0.0): expected 0; got nan | "
        "f(-1.5): raised ValueError: no slope here | "
        "f({tensor: [1.0, 2.0]}, scale=2): expected result.shape == (2,); "
        "got result.shape = (3,)"
    )
    assert v.details == {"cases": "1 of 4 as expected"}


def test_a_hidden_table_names_rows_by_number(tmp_path: Path) -> None:
    pc = plan_check(tmp_path, "cases:\n  - [2.0, 4.0]\n  - [3.0, 6.0]")
    v = judge(pc, returned(case_1=4.0, case_2=7.0))
    assert v.message == "f: 1 of 2 cases fail: case 2: got 7, which is not the expected value"


def test_partial_credit_per_row(tmp_path: Path) -> None:
    yaml = "judge: expect\nwith: {partial: true}\ncases: [[1, 1], [2, 2], [3, 3]]"
    pc = plan_check(tmp_path, yaml)
    v = judge(pc, returned(case_1=1, case_2=0, case_3=Raised("E", "")))
    assert not v.passed and v.fraction == pytest.approx(1 / 3)
    assert v.message == (
        "f: 2 of 3 cases fail: case 2: got 0, which is not the expected value | case 3: raised E"
    )
    assert judge(pc, returned(case_1=1, case_2=2, case_3=3)).fraction == 1


def test_a_check_level_predicate_applies_to_every_row(tmp_path: Path) -> None:
    yaml = "that: result >= 0\ncases:\n  - {args: [1]}\n  - {args: [2], expect: 4}"
    pc = plan_check(tmp_path, yaml)
    assert judge(pc, returned(case_1=0.5, case_2=4)).passed
    v = judge(pc, returned(case_1=-1, case_2=-4))
    assert v.message == (
        "f: 2 of 2 cases fail: case 1: expected result >= 0; got -1 | "
        "case 2: got -4, which is not the expected value; expected result >= 0; got -4"
    )


def test_many_failing_rows_are_counted_not_listed(tmp_path: Path) -> None:
    rows = "".join(f"\n  - [{n}, {n}]" for n in range(6))
    pc = plan_check(tmp_path, "cases:" + rows)
    v = judge(pc, returned(**{f"case_{n}": -1 for n in range(1, 7)}))
    assert v.message.startswith("f: 6 of 6 cases fail: case 1: ")
    assert v.message.endswith("| and 2 more") and "case 5" not in v.message


def test_a_row_without_a_value_fails(tmp_path: Path) -> None:
    pc = plan_check(tmp_path, "cases: [[1, 1]]")
    assert judge(pc, returned()).message == "f: 1 of 1 cases fail: case 1: no value came back"


# ------------------------------------------------------------------ the instructor's mistakes
@pytest.mark.parametrize(
    ("yaml", "line", "words"),
    [
        ("call: []\nthat: 'mse < 1'", 1, "key 'that': 'mse' is not a value this check keeps"),
        ("call: []\nthat: 'result <'", 1, "key 'that': not a Python expression"),
        ("call: []\nthat: '__import__(\"os\")'", 1, "the call of __import__ is not allowed"),
        ("call: []\nthat: 3", 1, "key 'that': expected text, got 3"),
        ("call: []\nthat: 'result < 10 ** 10 ** 10'", 1, "cannot be computed"),
        ("call: []\nthat: 'isinstance(result, nn.Linaer)'", 1, "nn.Linaer is not a module"),
        ("call: []\nexpect: {randn: [3]}", 1, "an expected value is a number, text"),
        ("call: []\nexpect: {tensor: [[1], [2, 3]]}", 1, "every row of the same length"),
        ("call: []\nexpect: {tensor: [1], dtype: int8}", 1, "key 'dtype': expected one of"),
        ("call: []\nexpect: {tensor: [1], scale: 2}", 1, "key 'scale': unknown in an expected"),
        ("call: []\nexpect: {dict: [1]}", 1, "key 'dict': expected a mapping"),
        ("call: []\njudge: match\nexpect: 1", 2, "key 'expect': belongs to the 'expect' judge"),
        ("judge: expect\ncall: []", 0, "key 'judge': 'expect' needs 'expect', 'that' or 'cases'"),
        ("cases: [[1, 2]]\ncall: [1]", 0, "give either 'cases' (one call per row) or 'call'"),
        ("cases: [[1, 2]]\nkeep: [x]", 0, "give either 'cases' (one call per row) or 'keep'"),
        ("cases:\n  - [1, 2]\n  - {args: [1]}", 2, "this row states nothing to check"),
        ("cases: []", 0, "key 'cases': expected at least one row"),
        ("cases: [[]]", 0, "a row lists arguments, then the answer"),
        ("cases:\n  - {args: [1], expect: 1, wrt: x}", 1, "key 'wrt': unknown key in a row"),
        ("cases:\n  - [{randn: x}, 1]", 1, "key 'randn': expected a shape"),
        ("cases:\n  - {args: [1], that: 'mse > 0'}", 1, "'mse' is not a value this check keeps"),
        ("steps:\n  - call: f\n    as: y\nexpect: 1", 3, "the check keeps no value 'result'"),
    ],
)
def test_mistakes_are_the_instructors_at_file_and_line(
    tmp_path: Path, yaml: str, line: int, words: str
) -> None:
    with pytest.raises(ExerciseError) as info:
        plan_check(tmp_path, yaml)
    assert words in info.value.message
    assert info.value.line == FIRST + line, info.value
