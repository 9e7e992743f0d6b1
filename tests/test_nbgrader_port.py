"""A 3-question nbgrader assignment ported to YAML only (issue 18): ``assert grad_at(2.0)
== 4.0`` at four inputs becomes one table check, ``assert final_mse < 0.05`` and
``isinstance(model, nn.Linear)`` become predicates. The course is built in tmp_path,
validated, and a correct, a wrong and an incomplete submission are graded through the
real CLI and sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import check, exercise, results, run_grader, write_student

pytestmark = pytest.mark.slow

EXERCISE = """\
id: autograd-basics
title: Autograd and a first fit (ported from nbgrader)
file: autograd_basics
prompt: |
  Compute a derivative with autograd, then fit a line with a model you build.
disclose: [inputs, expected]
entry_points:
  - name: grad_at
    signature: (x)
    doc: The derivative of x**2 at the float x, computed with autograd.
  - name: fit_line
    signature: ()
    doc: Make noisy points on a line, fit an nn.Linear(1, 1) to them, return (model, final MSE).
checks:
  - name: grad_at(x) is 2x
    entry: grad_at
    points: 4
    with: {partial: true}
    cases:
      - [2.0, 4.0]
      - [0.0, 0.0]
      - [-1.5, -3.0]
      - {args: [10.0], expect: 20.0, that: "result > 0"}
  - name: the final MSE is below 0.05
    entry: fit_line
    points: 2
    call: []
    that: "len(result) == 2 and result[1] < 0.05"
  - name: the model is an nn.Linear
    entry: fit_line
    points: 1
    call: []
    that: "isinstance(result[0], nn.Linear)"
"""

SOLUTION = """\
import torch
from torch import nn


def grad_at(x):
    t = torch.tensor(float(x), requires_grad=True)
    (t**2).backward()
    return t.grad.item()


def fit_line():
    x = torch.linspace(-1, 1, 100).unsqueeze(1)
    y = 3 * x + 0.5 + 0.1 * torch.randn(100, 1)
    model = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(300):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model, loss.item()
"""

# Right, in its own way: the gradient as a 0-d tensor, the model a subclass of nn.Linear.
CORRECT = (
    SOLUTION.replace("return t.grad.item()", "return t.grad")
    .replace("model = nn.Linear(1, 1)", "model = Line(1, 1)")
    .replace("def fit_line():", "class Line(nn.Linear):\n    pass\n\n\ndef fit_line():")
)

# 0.0 / 0.0 at x == 0 (the row raises); the fit: a Sequential trained for ten tiny steps.
WRONG = (
    SOLUTION.replace("return t.grad.item()", "return t.grad.item() * x / x")
    .replace("model = nn.Linear(1, 1)", "model = nn.Sequential(nn.Linear(1, 1))")
    .replace("range(300)", "range(10)")
    .replace("lr=0.1", "lr=0.001")
)

INCOMPLETE = SOLUTION.replace("def grad_at(x):", "def gradient_at(x):")


def write_course(root: Path) -> Path:
    (root / "exercises").mkdir(parents=True)
    (root / "solutions").mkdir()
    (root / "exercises" / "autograd_basics.yaml").write_text(EXERCISE)
    (root / "solutions" / "autograd_basics.py").write_text(SOLUTION)
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_course(tmp_path_factory.mktemp("port") / "course")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, course: Path) -> dict:
    subs = tmp_path_factory.mktemp("subs")
    for name, text in (("ada", CORRECT), ("ben", WRONG), ("cho", INCOMPLETE)):
        write_student(subs, name, {"autograd_basics.py": text})
    out = tmp_path_factory.mktemp("out")
    proc = run_grader("grade", str(subs), "--out", str(out), "--course", str(course))
    assert proc.returncode == 0, proc.stderr
    return results(out)


def test_the_ported_course_validates(course: Path) -> None:
    proc = run_grader("validate", "--course", str(course), "--seeds", "0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "solutions: 7/7" in proc.stdout and "stubs: 0/7" in proc.stdout


def test_a_correct_submission_in_its_own_way_scores_full_marks(graded: dict) -> None:
    ex = exercise(graded, "ada", "autograd-basics")
    assert ex["score"] == ex["max_score"] == 7, [c["message"] for c in ex["checks"]]
    assert check(graded, "ada", "autograd-basics", "2x")["message"] == (
        "grad_at: all 4 cases as expected"
    )
    assert check(graded, "ada", "autograd-basics", "nn.Linear")["message"] == (
        "fit_line: isinstance(result[0], nn.Linear), as expected"
    )


def test_a_table_names_each_failing_row_and_gives_credit_per_row(graded: dict) -> None:
    table = check(graded, "ben", "autograd-basics", "2x")
    assert table["status"] == "failed" and table["score"] == 3
    assert table["message"] == (
        "grad_at: 1 of 4 cases fail: grad_at(0.0): raised ZeroDivisionError: float division by zero"
    )


def test_predicates_say_what_was_expected_and_what_was_got(graded: dict) -> None:
    mse = check(graded, "ben", "autograd-basics", "MSE")
    assert mse["status"] == "failed" and mse["score"] == 0
    assert mse["message"].startswith(
        "fit_line: expected len(result) == 2 and result[1] < 0.05; got result[1] = "
    )
    model = check(graded, "ben", "autograd-basics", "nn.Linear")
    assert model["message"] == (
        "fit_line: expected isinstance(result[0], nn.Linear); got result[0] = "
        "a module of class torch.nn.modules.container.Sequential"
    )


def test_a_missing_entry_point_fails_the_whole_table_once(graded: dict) -> None:
    table = check(graded, "cho", "autograd-basics", "2x")
    assert table["status"] == "error" and table["score"] == 0
    assert "defines no 'grad_at'" in table["message"]
    assert exercise(graded, "cho", "autograd-basics")["score"] == 3


def test_a_predicate_mistake_is_the_instructors_at_file_and_line(tmp_path: Path) -> None:
    root = write_course(tmp_path / "course")
    path = root / "exercises" / "autograd_basics.yaml"
    path.write_text(
        EXERCISE.replace('"isinstance(result[0], nn.Linear)"', '"isinstance(result[0], nn.Linaer)"')
    )
    proc = run_grader("validate", "--course", str(root), "--seeds", "0")
    assert proc.returncode == 2
    line = EXERCISE.splitlines().index('    that: "isinstance(result[0], nn.Linear)"') + 1
    assert proc.stderr.strip() == (
        f"grader: exercises/autograd_basics.yaml:{line}: key 'that': "
        "nn.Linaer is not a module class of torch.nn"
    )
