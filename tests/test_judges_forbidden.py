"""The ``forbidden-calls`` judge on hand-written code: the verdict's words, the lines it
points at, and its options (``names``, ``functions``, ``instead``). How uses are found
in the syntax tree is tested in test_forbidden.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from judging import context, judge, plan_check

from grader.checks import JUDGES, Unjudgeable, forbidden
from grader.checks.forbidden import (
    MAX_DEPTH,
    MAX_SOURCE_CHARS,
    TOO_DEEP,
    CodeTooLarge,
    _find_forbidden,
    find_forbidden,
)
from grader.plan import PlannedCheck
from grader.schema import ExerciseError

CHECK = """
judge: forbidden-calls
with: {names: [sigmoid, Sigmoid]}
"""
CLEAN = "import torch\n\n\ndef f(x):\n    return 1 / (1 + torch.exp(-x))\n"
USES = "import torch\n\n\ndef f(x):\n    y = torch.sigmoid(x)\n    return torch.nn.Sigmoid()(y)\n"


@pytest.fixture(autouse=True)
def fresh_reading() -> None:
    """Each test reads its code itself: the judge keeps what it read of a source, and a
    reading left by another test would hide what this one checks."""
    _find_forbidden.cache_clear()


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
