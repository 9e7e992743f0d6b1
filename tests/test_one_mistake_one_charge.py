"""One mistake is charged once, by the check that names it (issue 17).

A class of students, each making one typical mistake in an otherwise correct solution,
is graded through the real CLI and sandbox. Each student must lose exactly the checks
listed for them, and keep every other check of the exercise.
"""

from __future__ import annotations

import pytest
from conftest import ROOT, exercise, results, run_grader, write_student


def solution(file: str) -> str:
    return (ROOT / "solutions" / file).read_text()


def mistake(file: str, old: str, new: str) -> dict[str, str]:
    text = solution(file)
    assert old in text, f"{old!r} is not in solutions/{file}"
    return {file: text.replace(old, new)}


# student -> (their one file, the exercise, the checks that must fail, and nothing else)
MISTAKES: dict[str, tuple[dict[str, str], str, set[str]]] = {
    # The loss tensors instead of loss.item(): the model still trains well.
    "loss_tensors": (
        mistake("training_loop.py", "losses.append(loss.item())", "losses.append(loss)"),
        "training-loop",
        {"train returns one Python float per epoch, and the loss goes down"},
    ),
    # A one-element tensor for a float: the float check names it; the value is right.
    "tensor_not_float": (
        mistake("derivative.py", "return t.grad.item()", "return t.grad"),
        "derivative",
        {"derivative_of_square at x = 3 returns the float 6"},
    ),
    # requires_grad on the caller's point: one check names it, not five.
    "grad_on_callers_point": (
        mistake(
            "derivative.py",
            "v = point.detach().clone().requires_grad_(True)",
            "v = point.requires_grad_(True)",
        ),
        "derivative",
        {"gradient returns a detached tensor and leaves the caller's point unchanged"},
    ),
    # A list of ids for a tensor: one check names the int64 tensor.
    "ids_as_a_list": (
        mistake(
            "text_to_ids.py",
            "return torch.tensor(ids, dtype=torch.int64)",
            "return ids",
        ),
        "text-to-ids",
        {"encode returns an int64 tensor, even for an empty sentence"},
    ),
    # No / 255: the channels are right; the scale check names it.
    "no_division": (
        mistake("image_to_tensor.py", ".to(torch.float32) / 255.0", ".to(torch.float32)"),
        "image-to-tensor",
        {"0 becomes 0.0 and 255 becomes exactly 1.0"},
    ),
    # Centred in place: the result is right, the caller's v is not.
    "centred_in_place": (
        mistake(
            "mesh_to_tensor.py", "return v - v.mean(dim=0)", "v -= v.mean(dim=0)\n    return v"
        ),
        "mesh-to-tensor",
        {"center_vertices leaves the caller's v unchanged"},
    ),
    # Statistics over both sets: the stats check names it; the scaling with them is right.
    "stats_over_both": (
        mistake(
            "prepare_data.py",
            "    mean = X_train.mean(dim=0)\n    std = X_train.std(dim=0)\n",
            "    both = torch.cat([X_train, X_val])\n"
            "    mean = both.mean(dim=0)\n    std = both.std(dim=0)\n",
        ),
        "prepare-data",
        {"standardize computes mean and std per column, on X_train only"},
    ),
    # X_val scaled with its own statistics: the scaling check names it.
    "val_own_stats": (
        mistake(
            "prepare_data.py",
            "(X_val - mean) / std, mean, std",
            "(X_val - X_val.mean(dim=0)) / X_val.std(dim=0), mean, std",
        ),
        "prepare-data",
        {"standardize scales both sets with the mean and std it returns"},
    ),
    # No guard for a constant column: the constant-column check names it.
    "no_constant_guard": (
        mistake(
            "prepare_data.py",
            "    std = torch.where(std == 0, torch.ones_like(std), std)\n",
            "",
        ),
        "prepare-data",
        {"standardize survives a constant column (std 1, no NaN or inf)"},
    ),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("one-charge")
    for student, (files, _, _) in MISTAKES.items():
        write_student(root / "class", student, files)
    out = root / "reports"
    done = run_grader("grade", str(root / "class"), "--out", str(out), "--jobs", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    return results(out)


@pytest.mark.parametrize("student", sorted(MISTAKES))
def test_a_mistake_costs_the_checks_that_name_it_and_no_other(graded: dict, student: str):
    _, exercise_id, must_fail = MISTAKES[student]
    checks = exercise(graded, student, exercise_id)["checks"]
    failed = {c["name"] for c in checks if c["status"] != "passed"}
    assert failed == must_fail, {c["name"]: c["message"] for c in checks if c["name"] in failed}
    names = {c["name"] for c in checks}
    assert must_fail <= names, "a check this test names no longer exists"


def test_a_wrong_type_still_has_its_values_judged(graded: dict):
    """The check that names the type says the values are right too: one fix, not two."""
    _, exercise_id, must_fail = MISTAKES["loss_tensors"]
    (name,) = must_fail
    checks = exercise(graded, "loss_tensors", exercise_id)["checks"]
    message = next(c["message"] for c in checks if c["name"] == name)
    assert message.startswith(
        "train: the losses should be Python floats, but the list holds a float32 tensor of "
        "shape []; append loss.item(), not the loss tensor; their values are right: 5 losses, "
        "going down from "
    )
    checks = exercise(graded, "tensor_not_float", "derivative")["checks"]
    message = next(c["message"] for c in checks if c["name"].endswith("returns the float 6"))
    assert message.endswith("; its value, 6, is right")
