"""Forbidden calls are found in the syntax tree, however they are spelled; each statement
is read once, and code over the judge's caps is an error that says so."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from judging import context, judge, plan_check, plan_checks

from grader.course.schema import ExerciseError
from grader.grading.plan import PlannedCheck
from grader.judges import JUDGES, Unjudgeable, Verdict, forbidden
from grader.judges.forbidden import MAX_SOURCE_CHARS, CodeTooLarge, find_forbidden

SIGMOID = {"sigmoid", "sigmoid_", "Sigmoid", "expit"}


@pytest.mark.parametrize(
    "body",
    [
        "import torch\ndef sigmoid(x):\n    return torch.sigmoid(x)\n",
        "import torch.nn.functional as F\ndef sigmoid(x):\n    return F.sigmoid(x)\n",
        "from torch import sigmoid as s\ndef sigmoid(x):\n    return s(x)\n",
        "def sigmoid(x):\n    return x.sigmoid_()\n",
        "import torch.nn as nn\ndef sigmoid(x):\n    return nn.Sigmoid()(x)\n",
        "import torch\ndef sigmoid(x):\n    return getattr(torch, 'sigmoid')(x)\n",
        "import torch\nsig = torch.sigmoid\ndef sigmoid(x):\n    return sig(x)\n",
        "import torch\ndef helper(x):\n    return torch.special.expit(x)\ndef sigmoid(x):\n"
        "    return helper(x)\n",
        "import torch\ndef a(x):\n    return torch.sigmoid(x)\ndef b(x):\n    return a(x)\n"
        "def sigmoid(x):\n    return b(x)\n",
        "from torch.special import expit\ndef sigmoid(x):\n    return expit(x)\n",
    ],
)
def test_found(body: str):
    assert find_forbidden(body, ["sigmoid"], SIGMOID)["sigmoid"]


@pytest.mark.parametrize(
    "body",
    [
        "import torch\ndef sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\n",
        # Used elsewhere in the file, not by sigmoid: sigmoid keeps its points.
        "import torch\ndef sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\ndef other(x):\n"
        "    return torch.sigmoid(x)\n",
        # Code under the main guard never runs in grading.
        "import torch\ndef sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\n"
        "if __name__ == '__main__':\n"
        "    print(torch.allclose(sigmoid(torch.zeros(1)), torch.sigmoid(torch.zeros(1))))\n",
        # The word in a comment or an unrelated string is not a call.
        "import torch\ndef sigmoid(x):\n    # unlike torch.sigmoid, written by hand\n"
        "    return 1 / (1 + torch.exp(-x))\n",
    ],
)
def test_not_found(body: str):
    assert find_forbidden(body, ["sigmoid"], SIGMOID)["sigmoid"] == []


def test_lines_are_reported():
    uses = find_forbidden(
        "import torch\n\n\ndef sigmoid(x):\n    return torch.sigmoid(x)\n", ["sigmoid"], SIGMOID
    )
    assert uses["sigmoid"] == [("torch.sigmoid", 5)]


def test_a_docstring_naming_the_function_is_not_a_use():
    body = 'import torch\ndef sigmoid(x):\n    """sigmoid"""\n    return 1 / (1 + torch.exp(-x))\n'
    assert find_forbidden(body, ["sigmoid"], SIGMOID)["sigmoid"] == []


def test_a_name_looked_up_by_subscript_is_a_use():
    body = 'import torch.nn.functional as F\ndef sigmoid(x):\n    return vars(F)["sigmoid"](x)\n'
    assert find_forbidden(body, ["sigmoid"], SIGMOID)["sigmoid"]


# -- linear, capped ----------------------------------------------------------------------


def _reference_find(
    source: str, functions: list[str], forbidden: set[str]
) -> dict[str, set[tuple[str, int]]]:
    """The judge's rule written as plainly as possible (each name's statements walked
    again for each name: quadratic, fine for small files), to compare with."""
    tree = ast.parse(source)
    bindings: dict[str, list[ast.stmt]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test):
            continue
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [stmt.name]
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in stmt.names]
        else:
            names = [
                n.id
                for n in ast.walk(stmt)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            ]
        for name in names:
            bindings.setdefault(name, []).append(stmt)

    def uses(stmt: ast.stmt) -> set[tuple[str, int]]:
        found = set()
        if isinstance(stmt, ast.Import):
            return found
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Attribute) and sub.attr in forbidden:
                found.add((ast.unparse(sub), sub.lineno))
            elif isinstance(sub, ast.ImportFrom):
                found |= {
                    (f"from {sub.module} import {a.name}", sub.lineno)
                    for a in sub.names
                    if a.name in forbidden
                }
            elif isinstance(sub, (ast.Call, ast.Subscript)):
                texts = (
                    [*sub.args, *(k.value for k in sub.keywords)]
                    if isinstance(sub, ast.Call)
                    else [sub.slice]
                )
                found |= {
                    (repr(t.value), t.lineno)
                    for t in texts
                    if isinstance(t, ast.Constant)
                    and isinstance(t.value, str)
                    and t.value.strip() in forbidden
                }
        return found

    report = {}
    for fn in functions:
        seen, todo, found = set(), [fn], set()
        while todo:
            name = todo.pop()
            if name in seen or name not in bindings:
                continue
            seen.add(name)
            for stmt in bindings[name]:
                found |= uses(stmt)
                todo += [n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)]
        report[fn] = found
    return report


def course_files() -> list[tuple[Path, list[str], set[str]]]:
    """Every .py file of the course, its examples and the notebook corpus that is the
    file of an exercise with forbidden-calls checks, with each check's functions and names."""
    cases = []
    for path in sorted((ROOT / "exercises").glob("*.yaml")):
        exercise = yaml.safe_load(path.read_text())
        checks = [c for c in exercise.get("checks", []) if c.get("judge") == "forbidden-calls"]
        sources = [
            ROOT / "solutions" / f"{exercise['file']}.py",
            *sorted((ROOT / "examples" / "submissions").glob(f"*/{exercise['file']}.py")),
            *sorted((ROOT / "tests" / "notebook_corpus").glob(f"*/{exercise['file']}.py")),
        ]
        for check in checks:
            functions = [str(f) for f in check["with"].get("functions", [check["entry"]])]
            names = {str(n) for n in check["with"]["names"]}
            cases += [(source, functions, names) for source in sources if source.is_file()]
    return cases


def test_same_findings_as_the_plain_rule_on_the_course_files():
    cases = course_files()
    assert len(cases) >= 9
    for source, functions, names in cases:
        text = source.read_text()
        found = find_forbidden(text, functions, names)
        assert {fn: set(uses) for fn, uses in found.items()} == _reference_find(
            text, functions, names
        ), source
    # ... including a student who used the library (the check must find something).
    assert any(find_forbidden(s.read_text(), f, n)[f[0]] for s, f, n in cases)


def test_twenty_thousand_names_are_judged_in_well_under_a_second():
    names = ", ".join(f"a{i}" for i in range(20_000))
    source = (
        ROOT / "solutions" / "activations.py"
    ).read_text() + f"\n\nif False:\n    {names} = 0\n"
    assert len(source) > 140_000
    started = time.perf_counter()
    found = find_forbidden(source, ["relu"], {"relu", "relu_", "ReLU"})
    assert time.perf_counter() - started < 5.0  # quadratic would take minutes; load may slow it
    assert found == {"relu": []}
    # And when the function does reach the huge statement, through one of its names.
    chained = (
        f"import torch\n{names} = (torch.relu,) * 20000\n\ndef relu(x):\n    return a19999(x)\n"
    )
    started = time.perf_counter()
    assert find_forbidden(chained, ["relu"], {"relu"}) == {"relu": [("torch.relu", 2)]}
    assert time.perf_counter() - started < 5.0  # quadratic would take minutes; load may slow it


def test_code_over_the_caps_is_an_error_that_says_so_not_a_long_wait():
    too_long = "x = 1\n" * (forbidden.MAX_SOURCE_CHARS // 6 + 1)
    with pytest.raises(CodeTooLarge, match="characters long"):
        find_forbidden(too_long, ["sigmoid"], SIGMOID)
    many_nodes = "x = [" + "0, " * (forbidden.MAX_NODES + 1) + "]\n"
    assert len(many_nodes) < forbidden.MAX_SOURCE_CHARS
    with pytest.raises(CodeTooLarge, match="syntax elements"):
        find_forbidden(many_nodes, ["sigmoid"], SIGMOID)
    # Nesting that Python's parser (or ast.unparse, quoting a use) cannot follow: never
    # a RecursionError or MemoryError out of the judge.
    for deep in (
        "def sigmoid(x):\n    return " + "not " * 100_000 + "x\n",
        "def sigmoid(x):\n    return x" + ".b" * 5_000 + ".sigmoid()\n",
        "def sigmoid(x):\n    return x" + ".b" * 600 + ".sigmoid()\n",
    ):  # parses; unparse cannot
        with pytest.raises(CodeTooLarge, match="nested too deeply"):
            find_forbidden(deep, ["sigmoid"], SIGMOID)


def test_the_judge_makes_code_over_the_caps_an_unjudgeable_check():
    from grader.course.loading import load_course
    from grader.judges import JUDGES, JudgeContext, Unjudgeable

    course = load_course(ROOT, resolve_helpers=False)
    exercise = course.exercise("activations")
    spec = next(c for c in exercise.checks if c.judge == "forbidden-calls")
    source = "x = [" + "0, " * (forbidden.MAX_NODES + 1) + "]\n"
    ctx = JudgeContext(exercise, spec, {}, read_source=lambda: source)
    with pytest.raises(Unjudgeable, match="could not be judged"):
        JUDGES["forbidden-calls"].judge(ctx)


# ----------------------------------------------------- the verdicts, on hand-made outputs
# The ``forbidden-calls`` judge on hand-written code: the verdict's words, the lines it
# points at, and its options (``names``, ``functions``, ``instead``). How uses are found
# in the syntax tree is tested in test_forbidden.py.

CHECK = """
judge: forbidden-calls
with: {names: [sigmoid, Sigmoid]}
"""
CLEAN = "import torch\n\n\ndef f(x):\n    return 1 / (1 + torch.exp(-x))\n"
USES = "import torch\n\n\ndef f(x):\n    y = torch.sigmoid(x)\n    return torch.nn.Sigmoid()(y)\n"


def check(tmp_path: Path, text: str = CHECK, entries: tuple[str, ...] = ("f",)) -> PlannedCheck:
    return plan_check(tmp_path, text, entries=entries)


def test_reading_code_needs_no_run(tmp_path: Path):
    pc = check(tmp_path)
    assert pc.probe is None and not pc.needs_solution


def test_code_without_the_names_passes(tmp_path: Path):
    v = judge(check(tmp_path), source=CLEAN)
    assert v.passed and v.message == "f is written with elementary operations"
    assert v.lines == [] and v.details == {}


def test_a_use_fails_and_points_at_its_lines(tmp_path: Path):
    v = judge(check(tmp_path), source=USES)
    assert not v.passed
    assert v.message == (
        "f uses the library's own version: torch.sigmoid (line 5), torch.nn.Sigmoid "
        "(line 6). This exercise asks you to write it yourself with elementary tensor "
        "operations, so f earns no points."
    )
    assert v.lines == [5, 6]
    assert v.details == {"uses": ["line 5: torch.sigmoid", "line 6: torch.nn.Sigmoid"]}


def test_lines_are_said_where_the_student_finds_them(tmp_path: Path):
    ctx = context(check(tmp_path), source=USES)
    ctx.where = lambda line: f"line {line - 3} of cell 2"
    v = JUDGES["forbidden-calls"].judge(ctx)
    assert "torch.sigmoid (line 2 of cell 2)" in v.message
    assert v.details["uses"][0] == "line 2 of cell 2: torch.sigmoid"
    assert v.lines == [5, 6]  # lines of the code, for the excerpt


def test_at_most_three_uses_are_named_and_ten_listed(tmp_path: Path):
    body = "".join(f"    x = torch.sigmoid(x)  # {i}\n" for i in range(12))
    v = judge(check(tmp_path), source=f"import torch\n\n\ndef f(x):\n{body}    return x\n")
    assert v.message.count("torch.sigmoid (line") == 3
    assert len(v.details["uses"]) == 10 and v.lines == [5, 6, 7]


def test_instead_option(tmp_path: Path):
    pc = check(tmp_path, CHECK.replace("]}", "], instead: torch.exp and arithmetic}"))
    v = judge(pc, source=USES)
    assert "to write it yourself with torch.exp and arithmetic, so f earns no points." in v.message


def test_functions_option_names_what_is_read(tmp_path: Path):
    pc = check(tmp_path, CHECK.replace("]}", "], functions: [g]}"), entries=("f", "g"))
    assert judge(pc, source=USES).passed  # f may use it, g is the one read
    source = USES + "\n\ndef g(x):\n    return f(x)\n"
    v = judge(pc, source=source)
    assert not v.passed and v.message.startswith("f uses the library's own version: torch.sigmoid")


def test_only_the_entry_is_read_by_default(tmp_path: Path):
    source = CLEAN + "\n\ndef other(x):\n    return torch.sigmoid(x)\n"
    assert judge(check(tmp_path), source=source).passed


def test_code_that_cannot_be_read(tmp_path: Path):
    pc = check(tmp_path)
    assert judge(pc, source=None).message == "f: the code could not be read"
    v = judge(pc, source="def f(x):\n    return (x\n")
    assert not v.passed
    assert v.message.startswith("f: the code has a syntax error (line 2: ")


def test_code_over_the_caps_is_unjudgeable(tmp_path: Path):
    with pytest.raises(Unjudgeable, match="characters long"):
        judge(check(tmp_path), source="#" * (MAX_SOURCE_CHARS + 1))


@pytest.mark.parametrize(
    "option, words",
    [
        ("{names: []}", "key 'names': expected at least one forbidden name"),
        ("{names: sigmoid}", "key 'names': expected a list, got 'sigmoid'"),
        ("{}", "key 'names': required in 'with' but missing"),
        ("{names: [sigmoid], instead: [a]}", "key 'instead': expected text, got a list"),
        ("{names: [sigmoid], calls: [a]}", "key 'calls': unknown key"),
    ],
)
def test_options_are_validated_at_load(tmp_path: Path, option: str, words: str):
    with pytest.raises(ExerciseError, match=words):
        check(tmp_path, f"judge: forbidden-calls\nwith: {option}")


# ----------------------------------------------------- the run-time record (issue 17)
# The record of what each recorded call dispatched, made by hand as the grader gives it
# to the judge (ctx.dispatched), judged together with the syntax tree. How the sandbox
# records it: tests/sandbox/test_dispatch_record.py; end to end: test_forbidden_at_run_time.py.
from grader.judges.base import Dispatched  # noqa: E402
from grader.judges.forbidden import MAX_DEPTH, RUN_TIME, TAMPERING, TOO_DEEP, _find_forbidden  # noqa: E402

RELU_CHECK = """
judge: forbidden-calls
with: {names: [relu, relu_, ReLU]}
"""
RUN = """
name: f on ordinary inputs
judge: match
call: [{randn: [3]}]
"""
BUILT = "import torch\n\n\ndef f(x):\n    return getattr(torch, 're' + 'lu')(x)\n"
HONEST = "import torch\n\n\ndef f(x):\n    return torch.maximum(x, torch.zeros_like(x))\n"


def recorded(tmp_path: Path, source: str, *records: Dispatched, text: str = RELU_CHECK) -> Verdict:
    ctx = context(check(tmp_path, text), source=source)
    ctx.dispatched = list(records)
    return JUDGES["forbidden-calls"].judge(ctx)


def ran(*ops: str, entry: str = "f", check: str = "f on ordinary inputs") -> Dispatched:
    return Dispatched(entry, check, frozenset(ops))


def test_the_plan_marks_the_calls_of_a_watched_entry_point(tmp_path: Path):
    gate, run = plan_checks(tmp_path, RELU_CHECK, RUN)
    assert gate.probe is None and run.probe is not None and run.probe.record
    assert run.probe.to_job()["record"] is True
    assert JUDGES["forbidden-calls"].recorded_entries(gate.spec) == {"f"}


@pytest.mark.parametrize(
    "gate",
    [
        "judge: forbidden-calls\nwith: {names: [relu], at_run_time: false}",
        "judge: forbidden-calls\nwith: {names: [allclose]}",  # not a function it can see
        "judge: forbidden-calls\nwith: {names: [relu], functions: [g]}",  # g is read, not f
    ],
)
def test_calls_nobody_asks_for_are_not_recorded(tmp_path: Path, gate: str):
    _, run = plan_checks(tmp_path, gate, RUN, entries=("f", "g"))
    assert run.probe is not None and not run.probe.record
    assert "record" not in run.probe.to_job()


def test_a_training_loop_is_never_recorded(tmp_path: Path):
    assert not JUDGES["training"].recordable
    assert all(j.recordable for name, j in JUDGES.items() if name != "training")


def test_a_function_built_at_run_time_fails_and_says_how_it_was_seen(tmp_path: Path):
    v = recorded(tmp_path, BUILT, ran("aten.detach", "aten.relu"))
    assert not v.passed
    assert v.message == (
        "f called the library's relu at run time (aten.relu). This exercise asks you to "
        "write it yourself with elementary tensor operations, so f earns no points."
    )
    assert v.details == {"dispatched": ["f on ordinary inputs: aten.relu"]}
    assert v.message.split(". ")[0] == "f called the library's relu at run time (aten.relu)"


def test_every_recorded_check_that_saw_it_is_listed(tmp_path: Path):
    v = recorded(
        tmp_path,
        BUILT,
        ran("aten.relu_", check="a"),
        ran("aten.add", check="b"),
        ran("aten.relu", "aten.relu_", check="c"),
    )
    assert "(aten.relu, aten.relu_)" in v.message
    assert v.details == {"dispatched": ["a: aten.relu_", "c: aten.relu, aten.relu_"]}


@pytest.mark.parametrize(
    "ops",
    [
        ("aten.maximum", "aten.zeros_like"),  # torch.maximum(x, 0) is not relu
        ("aten.clamp",),
        ("aten.gt", "aten.scalar_tensor", "aten.where"),
        ("aten.clamp_min", "aten.threshold", "aten.hardtanh"),  # not in relu's list
        ("aten.sigmoid", "aten.tanh"),  # forbidden elsewhere, not by this check
        (),
    ],
)
def test_elementary_operators_are_not_the_function(tmp_path: Path, ops: tuple[str, ...]):
    v = recorded(tmp_path, HONEST, ran(*ops))
    assert v.passed and v.message == "f is written with elementary operations"


def test_records_of_other_entry_points_do_not_count(tmp_path: Path):
    assert recorded(tmp_path, HONEST, ran("aten.relu", entry="g")).passed


def test_the_syntax_message_is_kept_when_both_see_it(tmp_path: Path):
    source = "import torch\n\n\ndef f(x):\n    return torch.relu(x)\n"
    v = recorded(tmp_path, source, ran("aten.relu"))
    assert v.message.startswith("f uses the library's own version: torch.relu (line 5). ")
    assert v.lines == [5] and "uses" in v.details


def test_at_run_time_false_reads_the_code_only(tmp_path: Path):
    text = "judge: forbidden-calls\nwith: {names: [relu], at_run_time: false}"
    assert recorded(tmp_path, BUILT, ran("aten.relu"), text=text).passed


def test_each_function_counts_its_own_operators(tmp_path: Path):
    text = "judge: forbidden-calls\nwith: {names: [sigmoid, expit, tanh]}"
    v = recorded(tmp_path, HONEST, ran("aten.tanh", "aten.sigmoid", "aten.relu"), text=text)
    assert v.message.startswith(
        "f called the library's sigmoid and tanh at run time (aten.sigmoid, aten.tanh). "
    )
    for fn, (names, ops) in RUN_TIME.items():
        assert fn in names, fn
        assert all(op.startswith("aten.") for op in ops), fn


@pytest.mark.parametrize(
    "line",
    [
        "from torch.utils._python_dispatch import _disable_current_modes as _",
        "import torch.utils._python_dispatch as d\n_ = d._disable_current_modes",
        "import torch\n_ = torch._C._pop_torch_dispatch_mode",
        "import torch\n_ = torch._C._DisableTorchDispatch",
        "import torch\n_ = getattr(torch._C, '_ExcludeDispatchKeyGuard')",
    ],
)
def test_the_usual_ways_of_turning_the_record_off_are_flagged(tmp_path: Path, line: str):
    source = f"{line}\n\n\ndef f(x):\n    _\n    return x.clamp(min=0)\n"
    v = recorded(tmp_path, source, ran("aten.clamp"))
    assert not v.passed
    assert v.message.startswith("f reaches into PyTorch's dispatch modes: ")
    assert v.message.endswith(
        "The grader uses them to see which library functions f calls, so f earns no points."
    )
    assert "_python_dispatch" in TAMPERING


def test_tampering_is_not_looked_for_when_nothing_is_recorded(tmp_path: Path):
    text = "judge: forbidden-calls\nwith: {names: [relu], at_run_time: false}"
    source = (
        "import torch\n_ = torch._C._DisableTorchDispatch\n\n\ndef f(x):\n    _\n    return x\n"
    )
    assert recorded(tmp_path, source, text=text).passed


def test_an_unreadable_record_makes_the_check_unjudgeable(tmp_path: Path):
    ctx = context(check(tmp_path, RELU_CHECK), source=HONEST)
    ctx.unreadable_records = ["malformed run-time record"]
    with pytest.raises(Unjudgeable, match="the record of what it called at run time was"):
        JUDGES["forbidden-calls"].judge(ctx)
    ctx.dispatched = [ran("aten.relu")]  # what was readable still counts
    assert not JUDGES["forbidden-calls"].judge(ctx).passed


def test_the_option_is_validated_at_load(tmp_path: Path):
    with pytest.raises(ExerciseError, match="at_run_time"):
        check(tmp_path, "judge: forbidden-calls\nwith: {names: [relu], at_run_time: maybe}")


@pytest.fixture(autouse=True)
def fresh_reading() -> None:
    """Each test reads its code itself: the judge keeps what it read of a source, and a
    reading left by another test would hide what this one checks."""
    _find_forbidden.cache_clear()


# ------------------------------------------------------------------ found by mutation testing
def test_code_that_cannot_be_read_fails(tmp_path: Path):
    pc = check(tmp_path)
    assert judge(pc, source=None).passed is False
    assert judge(pc, source="def f(x):\n    return (x\n").passed is False
    assert judge(pc, source=USES).passed is False


@pytest.mark.parametrize(
    "source, uses",
    [
        (
            "from torch import sigmoid\n\n\ndef f(x):\n    return sigmoid(x)\n",
            [("from torch import sigmoid", 1)],
        ),
        (
            "import torch\n\n\ndef f(x):\n    return getattr(torch, 'sigmoid')(x)\n",
            [("'sigmoid'", 5)],
        ),
        (
            "import torch\n\n\ndef f(x):\n    return getattr(torch, name=' sigmoid ')(x)\n",
            [("' sigmoid '", 5)],
        ),
        (
            "import torch.nn.functional as F\n\n\ndef f(x):\n    return F.__dict__['sigmoid'](x)\n",
            [("'sigmoid'", 5)],
        ),
        ("import torch\n\n\ndef f(x):\n    return torch.exp(x, out=None)\n", []),
        ('def f(x):\n    """Like sigmoid."""\n    return print("sigmoid is banned", 2, x)\n', []),
        # A helper bound in the main guard is never run by the grader; one bound in
        # another module-level `if` is.
        (
            "import torch\n\n\ndef f(x):\n    return g(x)\n\n\ng = abs\n"
            "if __name__ == '__main__':\n    g = torch.sigmoid\n",
            [],
        ),
        (
            "import torch\n\n\ndef f(x):\n    return g(x)\n\n\ng = abs\n"
            "if torch.cuda.is_available():\n    g = torch.sigmoid\n",
            [("torch.sigmoid", 10)],
        ),
    ],
)
def test_uses_found_in_the_syntax(source: str, uses: list):
    assert find_forbidden(source, ["f"], {"sigmoid"}) == {"f": uses}


def test_code_of_exactly_the_caps_is_read(monkeypatch: pytest.MonkeyPatch):
    assert find_forbidden("#" * MAX_SOURCE_CHARS, ["f"], {"sigmoid"}) == {"f": []}
    # A small cap keeps the test fast. `x = [0, ..., 0]` is the module, the assignment,
    # x, its Store, the list, its Load and one element per zero: 6 + 14 = 20.
    monkeypatch.setattr(forbidden, "MAX_NODES", 20)
    assert find_forbidden("x = [" + "0," * 14 + "]", ["f"], {"s"}) == {"f": []}
    with pytest.raises(CodeTooLarge) as caught:
        find_forbidden("x = [" + "0," * 15 + "]", ["f"], {"s"})
    assert str(caught.value) == (
        "the code has more than 20 syntax elements, more than the grader reads to look "
        "for library calls, so this check could not be judged"
    )


def test_nesting_of_exactly_the_cap_is_read():
    # `x = - - ... 0`: the module at depth 0, the assignment at 1, k negations from 2
    # on, the last one's 0 (and its operator) at k + 2.
    k = MAX_DEPTH - 2
    assert find_forbidden("x = " + "-" * k + "0", ["f"], {"s"}) == {"f": []}
    with pytest.raises(CodeTooLarge) as caught:
        find_forbidden("x = " + "-" * (k + 1) + "0", ["f"], {"s"})
    assert str(caught.value) == TOO_DEEP


def test_code_too_deep_for_the_parser_says_so():
    with pytest.raises(CodeTooLarge) as caught:
        find_forbidden("x = " + "-" * 100_000 + "0", ["f"], {"s"})
    assert str(caught.value) == TOO_DEEP


def test_code_over_the_character_cap_says_so():
    with pytest.raises(CodeTooLarge) as caught:
        find_forbidden("#" * (MAX_SOURCE_CHARS + 1), ["f"], {"s"})
    assert str(caught.value) == (
        "the code is 1,000,001 characters long, more than the 1,000,000 the grader reads "
        "to look for library calls, so this check could not be judged"
    )
