"""The shipped course itself: `grader validate` passes, and the README's main command
grades the bundled examples with the verdicts they were written to show."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, exercise, results, run_grader

pytestmark = pytest.mark.slow


def test_grader_validate_passes():
    proc = run_grader("validate", "--seeds", "5")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "course is valid" in proc.stdout
    # Every shipped mistake fails the checks it names (and none scores full marks).
    shipped = len(list((ROOT / "solutions" / "mistakes").rglob("*.py")))
    assert shipped >= 2 * 11
    assert f"mistakes: {shipped} of {shipped} fail as declared" in proc.stdout


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("reports")
    proc = run_grader("grade", "examples/submissions", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "index.html").is_file() and (out / "grades.csv").is_file()
    return results(out)


def test_the_correct_example_scores_full_marks(examples: dict):
    ada = next(s for s in examples["students"] if s["id"] == "ada_correct")
    assert ada["score"] == ada["max_score"] > 100
    assert len(ada["exercises"]) == 11


@pytest.mark.parametrize(
    ("exercise_id", "check_part", "message_part"),
    [
        ("tensor-init", "make_uniform", "outside [0, 1)"),
        ("image-to-tensor", "", "values differ"),
        ("tensor-ops", "column_mean of a tall", "expected [4]"),
        ("activations", "", "torch.sigmoid"),
        ("derivative", "", "use .item()"),
        ("training-loop", "", "zero_grad"),
        ("save-load", "", "not a state_dict"),
    ],
)
def test_typical_mistakes_are_explained(
    examples: dict, exercise_id: str, check_part: str, message_part: str
):
    ex = exercise(examples, "ben_typical_mistakes", exercise_id)
    failing = [c for c in ex["checks"] if c["status"] != "passed" and check_part in c["name"]]
    assert any(message_part in c["message"] for c in failing), [c["message"] for c in failing]


def test_a_missing_exercise_is_reported_not_fatal(examples: dict):
    ex = exercise(examples, "ben_typical_mistakes", "mesh-to-tensor")
    assert ex["status"] == "missing" and "not submitted" in ex["message"]


def test_notebooks_import_each_other_and_failing_cells_are_reported(examples: dict):
    assert (
        exercise(examples, "cho_notebooks", "tensor-ops")["score"]
        == exercise(examples, "cho_notebooks", "tensor-ops")["max_score"]
    )
    act = exercise(examples, "cho_notebooks", "activations")
    assert any("plt" in note and "cell 3" in note for note in act["notes"])
    # save_load.ipynb imports Model from regression_model.ipynb; it only forgot eval().
    save_load = exercise(examples, "cho_notebooks", "save-load")
    assert save_load["score"] == save_load["max_score"] - 1
    assert any("eval()" in c["message"] for c in save_load["checks"])


def test_readme_names_the_two_commands():
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    # The main job does its set-up (bubblewrap when missing) and grades the examples.
    assert "\nbash scripts/quickstart\n" in readme
    assert (
        "grader grade examples/submissions --out reports"
        in (root / "scripts" / "quickstart").read_text()
    )
    # The test command does the whole set-up and runs pytest; CI runs exactly it.
    assert "\nbash scripts/dev-setup\n" in readme
    assert 'python" -m pytest' in (root / "scripts" / "dev-setup").read_text()
    ci = [line.strip() for line in (root / ".ci" / "run").read_text().splitlines()]
    assert "bash scripts/dev-setup" in ci


def test_hidden_answers_stay_hidden_unless_the_exercise_discloses_them(examples: dict):
    ex = exercise(examples, "ben_typical_mistakes", "image-to-tensor")
    by_name = {c["name"]: c for c in ex["checks"]}
    disclosed = by_name[
        "each channel holds one colour of every pixel (uint8 tensor, a 12 x 16 picture)"
    ]
    hidden = by_name["a tall, narrow image keeps its rows and columns (uint8 tensor, 9 x 4 image)"]
    # The picture check says `disclose: [inputs, expected]`: both images and values are shown.
    [picture] = disclosed["figures"]
    assert picture["kind"] == "channels" and picture["expected"] and picture["got"]
    assert (
        "expected" in disclosed["details"]["mismatches"][0]
        and ": expected " in disclosed["message"]
    )
    # The others show the student's values and where they differ, never the answer.
    assert hidden["figures"] == [] and ": expected " not in hidden["message"]
    assert all(set(row) == {"index", "got"} for row in hidden["details"]["mismatches"])
    assert "at other positions" in hidden["message"]  # what kind of wrong, in words


def test_pictures_and_code_that_explain_typical_mistakes(examples: dict):
    tensor_init = exercise(examples, "ben_typical_mistakes", "tensor-init")
    failed = [c for c in tensor_init["checks"] if c["status"] == "failed"]
    [uniform] = [c for c in failed if c["name"].startswith("make_uniform draws from")]
    # Its shape-only check counts only with it (needs:): not scored, not failed on its own.
    [shape] = [c for c in failed if c is not uniform]
    assert shape["message"].startswith("not scored: ") and shape["score"] == 0
    [histogram] = uniform["figures"]
    assert histogram["density"] == {"dist": "uniform", "low": 0.0, "high": 1.0}
    assert sum(histogram["counts"]) == histogram["samples"] == 10000
    training = exercise(examples, "ben_typical_mistakes", "training-loop")
    [curve] = [f for c in training["checks"] for f in c["figures"]]
    assert len(curve["losses"]) == len(curve["reference"]) == 200 and curve["target"] == 0.3
    assert (
        curve["reference"][-1] < curve["reference"][0]
        and curve["losses"][-1] > curve["reference"][-1]
    )
    encode = [
        c
        for c in exercise(examples, "ben_typical_mistakes", "text-to-ids")["checks"]
        if c["status"] == "error"
    ]
    assert encode and all(
        c["excerpts"][0]["lines"][c["excerpts"][0]["line"] - c["excerpts"][0]["first"]]
        .strip()
        .startswith("ids = [vocab[word]")
        for c in encode
    )
    activations = exercise(examples, "ben_typical_mistakes", "activations")
    forbidden = next(
        c
        for c in activations["checks"]
        if "library's own version: torch.sigmoid" in c["message"] and c["excerpts"]
    )
    assert forbidden["excerpts"][0]["file"] == "activations.py"
