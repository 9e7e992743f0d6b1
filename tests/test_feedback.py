"""What a report says about a wrong value, and what it may not say: tensor messages, the
disclosure rule for hidden checks, and the excerpts of a student's own code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from grader.course.loading import load_course
from grader.judges.compare import tensor_problems, value_problems
from grader.sandbox.protocol.values import TensorValue
from grader.submissions.excerpts import code_lines, excerpt, failing_line
from grader.submissions.folders import SubmittedFile
from grader.submissions.notebooks import read_notebook

ROOT = Path(__file__).resolve().parents[1]


def tv(data: torch.Tensor) -> TensorValue:
    return TensorValue(
        data=data, cls="torch.Tensor", exact=True, requires_grad=False, has_grad=False
    )


IMAGE = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 24  # distinct values


# ------------------------------------------------------------------ tensor messages
def test_values_that_differ_show_positions_and_both_values_when_disclosed() -> None:
    got = IMAGE.clone()
    got[1, 2, 3] = 5.0
    problems, details = tensor_problems(tv(got), IMAGE, atol=1e-6, rtol=1e-5)
    assert problems == [
        "values differ at 1 of 24 positions, e.g. at [1, 2, 3]: expected 0.958333, got 5; "
        "the other values are right"
    ]
    assert details["mismatches"] == [{"index": [1, 2, 3], "got": "5", "expected": "0.958333"}]
    assert details["expected"] == "float32 tensor of shape [2, 3, 4]" == details["got"]


def test_a_hidden_check_names_positions_and_the_students_value_but_never_the_expected_one() -> None:
    got = IMAGE + 0.5
    problems, details = tensor_problems(tv(got), IMAGE, atol=1e-6, rtol=1e-5, reveal=False)
    text = json.dumps([problems, details])
    assert "expected 0" not in text and '"expected": "0' not in text
    assert all("expected" not in row for row in details["mismatches"])
    assert problems[0].startswith(
        "values differ at 24 of 24 positions, e.g. at [0, 0, 0], where yours is 0.5"
    )
    assert problems[0].endswith(
        "every value is the expected one plus the same amount"
    )  # no number:
    # with the student's values beside it, an offset would give every expected value away.


@pytest.mark.parametrize(
    ("got", "says"),
    [
        (
            IMAGE.reshape(24).flip(0).reshape(2, 3, 4),
            "holds the expected values, but at other positions",
        ),
        (
            IMAGE.reshape(4, 3, 2).permute(2, 1, 0).contiguous().reshape(2, 3, 4),
            "at other positions",
        ),
        (IMAGE * 255 / 256, "every value is the expected one times 0.996094"),
        (IMAGE - 0.25, "every value is the expected one minus 0.25"),
    ],
)
def test_the_kind_of_wrong_is_named(got: torch.Tensor, says: str) -> None:
    problems, _ = tensor_problems(tv(got), IMAGE, atol=1e-6, rtol=1e-5)
    assert says in problems[0], problems
    hidden, _ = tensor_problems(tv(got), IMAGE, atol=1e-6, rtol=1e-5, reveal=False)
    assert says.split(" times ")[0].split(" minus ")[0] in hidden[0], hidden


def test_unrelated_values_get_no_diagnosis() -> None:
    got = torch.rand(2, 3, 4, generator=torch.Generator().manual_seed(1))
    problems, _ = tensor_problems(tv(got), IMAGE, atol=1e-6, rtol=1e-5)
    assert problems[0].count(";") == 0 and "positions" in problems[0]


def test_nan_and_inf_are_called_out_with_the_first_position() -> None:
    got = IMAGE.clone()
    got[0, 1, 2] = float("nan")
    got[1, 0, 0] = float("inf")
    got[1, 1, 1] = float("nan")
    problems, details = tensor_problems(tv(got), IMAGE, atol=1e-6, rtol=1e-5)
    assert problems == [
        "contains 2 NaN and 1 infinite values (the first at [0, 1, 2]), where every value "
        "should be a finite number"
    ]
    assert details["non_finite"] == {"nan": 2, "inf": 1}


def test_shape_and_dtype_are_the_contract_and_always_named() -> None:
    problems, details = tensor_problems(
        tv(torch.zeros(3, 2, dtype=torch.float64)), torch.zeros(2, 3), atol=0, rtol=0, reveal=False
    )
    assert problems == ["shape is [3, 2]; expected [2, 3]", "dtype is float64; expected float32"]
    assert details == {
        "expected": "float32 tensor of shape [2, 3]",
        "got": "float64 tensor of shape [3, 2]",
    }


@pytest.mark.parametrize(
    ("actual", "expected", "hidden_says", "shown_says"),
    [
        (5.0, 6.0, "got 5, which is not the expected value", "got 5; expected 6"),
        (
            "cat",
            "dog",
            "got the string 'cat', which is not the expected value",
            "expected the string 'dog'",
        ),
        ({"a": 1}, {"a": 1, "secret": 2}, "1 expected key is missing", "missing keys 'secret'"),
        (
            [1.0, 2.0],
            [1.0, 3.0],
            "result[1]: got 2, which is not the expected value",
            "result[1]: got 2; expected 3",
        ),
    ],
)
def test_plain_values_keep_hidden_answers_hidden(
    actual, expected, hidden_says: str, shown_says: str
) -> None:
    hidden, _ = value_problems(actual, expected, reveal=False)
    shown, _ = value_problems(actual, expected)
    assert any(hidden_says in p for p in hidden), hidden
    assert any(shown_says in p for p in shown), shown
    assert not any(
        "secret" in p or "dog" in p or "expected 6" in p or "expected 3" in p for p in hidden
    )


def test_the_course_discloses_only_its_teaching_pictures() -> None:
    course = load_course(ROOT)
    disclosed = {
        (ex.id, c.name): sorted(c.disclose)
        for ex in course.exercises
        for c in ex.checks
        if c.disclose
    }
    assert disclosed == {
        (
            "image-to-tensor",
            "each channel holds one colour of every pixel (uint8 tensor, a 12 x 16 picture)",
        ): ["expected", "inputs"],
        ("training-loop", "train fits a model that predicts held-out data well"): ["expected"],
    }


# ------------------------------------------------------------------ excerpts
SOURCE = "import torch\n\n\ndef f(x):\n    y = x * 2\n    return y[5]\n\n\ndef g():\n    pass\n"


def test_an_excerpt_is_the_line_and_its_neighbours_without_blank_edges() -> None:
    cut = excerpt(SOURCE, 6, "f.py")
    assert cut == {
        "file": "f.py",
        "line": 6,
        "first": 4,
        "lines": ["def f(x):", "    y = x * 2", "    return y[5]", "", "", "def g():"],
    }
    cut = excerpt(SOURCE, 5, "f.py")  # lines 2-8 around it; 2, 3, 7 and 8 are blank
    assert (cut["first"], cut["lines"]) == (4, ["def f(x):", "    y = x * 2", "    return y[5]"])
    assert excerpt(SOURCE, 10, "f.py")["lines"] == ["def g():", "    pass"]
    assert excerpt(SOURCE, 0, "f.py") is None and excerpt(SOURCE, 99, "f.py") is None
    assert excerpt("x = 1\n" * 3 + "y" * 500, 4, "f.py")["lines"][-1].endswith("\u2026")


def _py(tmp_path: Path, text: str) -> SubmittedFile:
    path = tmp_path / "ops.py"
    path.write_text(text)
    return SubmittedFile(exercise=None, path=path, kind="py", source=text)  # type: ignore[arg-type]


def test_the_failing_line_is_the_innermost_frame_in_the_students_own_file(tmp_path: Path) -> None:
    sub = _py(tmp_path, SOURCE)
    frames = [
        {"file": "ops.py", "line": 9},
        {"file": "ops.py", "line": 6},
        {"file": "helper.py", "line": 1},
    ]
    assert failing_line(sub, frames)["line"] == 6
    assert failing_line(sub, [{"file": "other.py", "line": 2}]) is None


def test_a_notebook_line_is_found_in_its_cell(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Ops"},
        {
            "cell_type": "code",
            "metadata": {},
            "source": "import torch\n%time x = 1",
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "metadata": {},
            "source": "def f(x):\n    return torch.sigmoid(x)",
            "outputs": [],
            "execution_count": None,
        },
    ]
    raw = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()
    notebook = read_notebook(raw)
    path = tmp_path / "ops.ipynb"
    sub = SubmittedFile(exercise=None, path=path, kind="ipynb", notebook=notebook)  # type: ignore[arg-type]
    code = sub.code()
    line = code.splitlines().index("    return torch.sigmoid(x)") + 1
    assert sub.where(line) == "line 2 of cell 3 (In [2], starting `def f(x):`)"
    [cut] = code_lines(sub, [line])
    assert (
        cut["file"].startswith("cell 3")
        and cut["line"] == 2
        and cut["lines"][-1] == "    return torch.sigmoid(x)"
    )
    frame = {"file": "cell 3", "line": 2}
    assert failing_line(sub, [frame])["lines"] == ["def f(x):", "    return torch.sigmoid(x)"]


# ------------------------------------------------------------------ the course's own judges
def _custom_check(exercise_id: str, entry: str):
    course = load_course(ROOT)
    ex = course.exercise(exercise_id)
    check = next(c for c in ex.checks if c.judge == "custom" and c.entry == entry)
    return ex, check


@pytest.mark.parametrize("disclosed", [False, True])
def test_the_courses_custom_judges_keep_hidden_answers_hidden_too(disclosed: bool) -> None:
    from dataclasses import replace

    from grader.judges import JUDGES
    from grader.judges.base import JudgeContext

    ex, check = _custom_check("derivative", "derivative_of_square")
    check = replace(check, disclose=frozenset({"expected"}) if disclosed else frozenset())
    source = (
        "def derivative_of_square(x):\n    t = torch.tensor(x, requires_grad=True)\n"
        "    (t * t).backward()\n"
        "    return t.grad.item() + 1\n"
    )
    ctx = JudgeContext(ex, check, {"result": 7.25}, {"result": 6.25}, read_source=lambda: source)
    verdict = JUDGES["custom"].judge(ctx)
    assert not verdict.passed and "got 7.25" in verdict.message
    assert ("expected 6.25" in verdict.message) is disclosed, verdict.message
