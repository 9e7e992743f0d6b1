"""End to end, through the real CLI and sandbox: a small course whose exercise trains a
class the student defines (an nn.Module) on Gaussian blobs. The steps build the class,
train it with the student's loop, and apply it to the held-out inputs; the held-out
labels stay in the grader, which scores the returned predictions.

Accuracy alone is a weak check here: blobs are so easy that a loop without zero_grad
still classifies well (its held-out accuracy came out 0.96-0.99 over seeds, as the
right loop's 0.97-0.99), so the exercise also sets a cross-entropy target, which that
loop misses by far (0.58 or more, against 0.12 or less for the right loop).
"""

from __future__ import annotations

import textwrap

import pytest
from conftest import exercise, results, run_grader, write_student

STEPS = """
    steps:
      - call: Classifier
        as: model
      - call: train
        args: [{ref: model}, {data: X_train}, {data: y_train}]
        as: result
      - method: eval
        on: model
      - call: model
        args: [{data: X_test}]
        as: predictions
    keep: [result, predictions]
    data: hidden/blobs.py:blobs
    judge: training
    timeout: 120"""
EXERCISE = f"""
id: blobs
title: Classify blobs
file: blobs
prompt: Define Classifier (2 features, 3 classes) and train it.
setup: |
  import torch
  from torch import nn
entry_points:
  - name: Classifier
    signature: ()
    doc: A classifier of 2 features into 3 classes.
  - name: train
    signature: (model, X, y, epochs=100, lr=0.05)
    doc: Train with cross-entropy and Adam, full batch; return the per-epoch losses.
checks:
  - name: accurate on held-out blobs
    entry: train
    points: 2{STEPS}
    with: {{metric: accuracy, target: 0.9, predictions: predictions, epochs: 100}}
  - name: confident on held-out blobs
    entry: train
    points: 2{STEPS}
    with: {{metric: cross-entropy, target: 0.3, predictions: predictions}}
"""
HELPER = """
import math

import torch


def blobs(seed):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (600,), generator=gen)
    angle = 2 * math.pi * torch.arange(3) / 3
    centres = 3 * torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    X = centres[y] + torch.randn(600, 2, generator=gen)
    return {"X_train": X[:300], "y_train": y[:300], "X_test": X[300:], "y_test": y[300:]}
"""
STUDENT = """
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 16)
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


def train(model, X, y, epochs=100, lr=0.05):
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("blobs")
    course = root / "course"
    (course / "exercises" / "hidden").mkdir(parents=True)
    (course / "exercises" / "blobs.yaml").write_text(textwrap.dedent(EXERCISE))
    (course / "exercises" / "hidden" / "blobs.py").write_text(HELPER)
    students = root / "students"
    write_student(students, "right", {"blobs.py": STUDENT})
    write_student(
        students, "no_zero_grad", {"blobs.py": STUDENT.replace("optimizer.zero_grad()", "pass")}
    )
    write_student(students, "no_step", {"blobs.py": STUDENT.replace("optimizer.step()", "pass")})
    out = root / "out"
    proc = run_grader("grade", str(students), "--course", str(course), "--out", str(out))
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return results(out)


def checks(data: dict, student: str) -> dict[str, dict]:
    return {c["name"]: c for c in exercise(data, student, "blobs")["checks"]}


def test_a_right_loop_passes_both_targets(graded: dict):
    found = checks(graded, "right")
    assert all(c["status"] == "passed" for c in found.values()), found
    assert found["accurate on held-out blobs"]["message"].startswith("train: held-out accuracy ")


def test_a_loop_without_step_fails_both_saying_the_weights_never_moved(graded: dict):
    found = checks(graded, "no_step")
    assert not any(c["status"] == "passed" for c in found.values()), found
    assert "The weights did not change at all" in found["accurate on held-out blobs"]["message"]


def test_a_loop_without_zero_grad_misses_the_cross_entropy_target(graded: dict):
    found = checks(graded, "no_zero_grad")
    assert not found["confident on held-out blobs"]["status"] == "passed", found
    assert (
        "the model's cross-entropy on held-out data is"
        in (found["confident on held-out blobs"]["message"])
    )
