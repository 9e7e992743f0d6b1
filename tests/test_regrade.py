"""Re-grading some students or exercises through the real CLI, pool, sandbox and store
(`grader grade --only STUDENT --exercise ID`): just those are graded, even when nothing
changed; every other row of the store stays byte for byte as it was; the reports still
cover the whole class."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_grader

pytestmark = pytest.mark.slow  # a dozen runs of the real sandbox

EXAMPLES = ROOT / "examples" / "submissions"
EXERCISES = ("tensor_ops", "tensor_init")  # two quick exercises of the bundled course


def stored(out: Path) -> dict[tuple[str, str], tuple]:
    """Every column of every row of the store, by (student, exercise)."""
    with sqlite3.connect(out / "grades.sqlite") as conn:
        rows = conn.execute(
            "SELECT student, exercise, position, submission_fp, exercise_fp, result, "
            "graded_at, final FROM results"
        ).fetchall()
    return {(row[0], row[1]): row for row in rows}


def students(out: Path, timeless: bool = False) -> dict[str, dict]:
    """results.json's students by id; ``timeless``: without the checks' timings, the one
    thing that differs when a result is graded again."""
    data = json.loads((out / "results.json").read_text())
    if timeless:
        for check in (c for s in data["students"] for e in s["exercises"] for c in e["checks"]):
            check.pop("seconds")
    return {s["id"]: s for s in data["students"]}


def timeless(result: str) -> dict:
    data = json.loads(result)
    for check in data["checks"]:
        check.pop("seconds")
    return data


def grade(root: Path, *extra: str, course: Path | None = None) -> subprocess.CompletedProcess:
    proc = run_grader(
        "grade",
        str(root / "subs"),
        "--out",
        str(root / "out"),
        "--course",
        str(course or root / "course"),
        "--jobs",
        "2",
        *extra,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def graded_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course of two exercises and a class of three, graded once."""
    root = tmp_path_factory.mktemp("class")
    course = root / "course"
    (course / "exercises" / "hidden").mkdir(parents=True)
    (course / "solutions").mkdir()
    shutil.copy(ROOT / "exercises" / "hidden" / "tensor_init.py", course / "exercises" / "hidden")
    for name in EXERCISES:
        shutil.copy(ROOT / "exercises" / f"{name}.yaml", course / "exercises")
        shutil.copy(ROOT / "solutions" / f"{name}.py", course / "solutions")
    for student, source in [
        ("ada", "ada_correct"),
        ("ben", "ben_typical_mistakes"),
        ("cho", "ada_correct"),
    ]:
        (root / "subs" / student).mkdir(parents=True)
        for name in EXERCISES:
            shutil.copy(EXAMPLES / source / f"{name}.py", root / "subs" / student)
    first = grade(root)
    assert "graded 3 submissions" in first.stderr
    return root


@pytest.fixture
def root(graded_once: Path, tmp_path: Path) -> Path:
    """A copy of the graded class for one test; a second later, so that a row written
    again shows a new graded_at (one-second resolution)."""
    shutil.copytree(graded_once, tmp_path / "class")
    time.sleep(1.1)
    return tmp_path / "class"


def edit(root: Path, student: str, name: str = "tensor_ops") -> None:
    path = root / "subs" / student / f"{name}.py"
    path.write_text(path.read_text() + "\n# edited\n")


def test_only_one_student_regrades_them_and_leaves_the_others_rows_alone(root: Path):
    before, reports = stored(root / "out"), students(root / "out")
    edit(root, "ada")
    edit(root, "ben")  # changed too, but not asked for: shown as stored, not graded
    proc = grade(root, "--only", "ada")
    after = stored(root / "out")
    assert {key for key in after if after[key] != before[key]} == {
        ("ada", "tensor-ops"),
        ("ada", "tensor-init"),
    }
    assert after.keys() == before.keys()
    # ada's rows carry her new fingerprint, so a normal run now grades only ben.
    assert after["ada", "tensor-init"][3] != before["ada", "tensor-init"][3]
    # The reports cover the class; the others exactly as they were.
    now = students(root / "out")
    assert list(now) == ["ada", "ben", "cho"]
    assert now["ben"] == reports["ben"] and now["cho"] == reports["cho"]
    assert "grader: re-grading ada (every exercise), forced;" in proc.stderr
    assert "[1/1] ada: 23/23, re-graded every exercise (" in proc.stderr
    summary = proc.stderr.splitlines()[-1]
    assert summary.startswith("re-graded ada (every exercise) in "), summary
    assert "; the other 2 students shown as stored, untouched" in summary
    assert "; 2 results shown as stored are out of date" in summary  # ben's

    normal = grade(root)
    assert "graded 1 submission" in normal.stderr and "2 unchanged" in normal.stderr
    assert "[1/1] ben: " in normal.stderr


def test_an_exercise_of_some_students_is_regraded_even_when_nothing_changed(root: Path):
    before, reports = stored(root / "out"), students(root / "out", timeless=True)
    proc = grade(root, "--exercise", "tensor-ops", "--only", "cho", "--only", "ben")
    after = stored(root / "out")
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {("ben", "tensor-ops"), ("cho", "tensor-ops")}
    # Graded again the same: only its timings and date moved.
    for key in changed:
        assert after[key][:5] == before[key][:5] and after[key][6] > before[key][6]
        assert timeless(after[key][5]) == timeless(before[key][5])
    assert students(root / "out", timeless=True) == reports
    assert "] ben: 17/23, re-graded tensor-ops (" in proc.stderr  # his total, not 5/8
    summary = proc.stderr.splitlines()[-1]
    assert summary.startswith("re-graded tensor-ops for ben, cho in "), summary
    assert "the other exercises and the other student shown as stored, untouched" in summary
    assert "out of date" not in summary

    again = grade(root)
    assert "nothing to grade: all 3 submissions unchanged" in again.stderr


def test_a_student_not_in_the_store_yet(root: Path):
    shutil.copytree(root / "subs" / "ben", root / "subs" / "dan")
    before = stored(root / "out")
    proc = grade(root, "--only", "dan", "--exercise", "tensor-ops")
    after = stored(root / "out")
    assert after.keys() - before.keys() == {("dan", "tensor-ops")}
    assert all(after[key] == row for key, row in before.items())
    # The exercise not asked for is shown as not graded yet, and never stored.
    dan = students(root / "out")["dan"]
    init = next(e for e in dan["exercises"] if e["id"] == "tensor-init")
    assert init["status"] == "error" and init["final"] is False
    assert init["message"].startswith("not graded yet")
    assert "warning: 1 result(s) outside --only/--exercise were never graded" in proc.stderr
    assert "re-graded tensor-ops for dan in " in proc.stderr
    assert "(1 of them for the first time)" in proc.stderr

    rest = grade(root)  # a normal run grades what was left
    assert "[1/1] dan: 17/23, re-graded tensor-init (" in rest.stderr
    assert "never graded" not in rest.stderr


def test_an_exercise_regraded_under_another_version_of_the_course(root: Path):
    """The course changed since the store was written: tensor-ops is worth more, and
    tensor-init is now init-tensors (a new exercise to the store). Only tensor-ops is
    re-graded; init-tensors is shown as not graded yet, and tensor-init's rows stay."""
    course = root / "course"
    old = course / "exercises" / "tensor_init.yaml"
    (course / "exercises" / "init_tensors.yaml").write_text(
        old.read_text().replace("id: tensor-init\n", "id: init-tensors\n", 1)
    )
    old.unlink()
    yaml_path = course / "exercises" / "tensor_ops.yaml"
    text = yaml_path.read_text()
    assert "    points: 2" in text and "\npoints: 8\n" in text
    yaml_path.write_text(
        text.replace("    points: 2", "    points: 3", 1).replace("\npoints: 8\n", "\npoints: 9\n")
    )
    before = stored(root / "out")

    refused = run_grader(
        "grade", str(root / "subs"), "--out", str(root / "out"), "--course", str(course),
        "--exercise", "tensor-init",
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.startswith("grader: --exercise tensor-init: no such exercise (")

    proc = grade(root, "--exercise", "tensor-ops")
    after = stored(root / "out")
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {(s, "tensor-ops") for s in ("ada", "ben", "cho")}
    assert after.keys() == before.keys()  # tensor-init's rows stay; init-tensors has none
    ada = students(root / "out")["ada"]
    assert [e["id"] for e in ada["exercises"]] == ["init-tensors", "tensor-ops"]
    assert ada["exercises"][1]["max_score"] == 9
    assert ada["exercises"][0]["message"].startswith("not graded yet")
    assert "warning: 3 result(s) outside --only/--exercise were never graded" in proc.stderr
    summary = proc.stderr.splitlines()[-1]
    assert summary.startswith("re-graded tensor-ops for every student (3) in "), summary


def test_unknown_names_are_one_line_with_the_close_matches(graded_once: Path):
    before = stored(graded_once / "out")
    cases = [
        (["--only", "adda"], "grader: --only adda: no such student (did you mean ada?)"),
        (
            ["--exercise", "tensor_ops", "--exercise", "zzz"],
            "grader: --exercise tensor_ops: no such exercise (did you mean tensor-ops?); "
            "--exercise zzz: no such exercise (no close match; the course has tensor-init, "
            "tensor-ops)",
        ),
    ]
    for extra, line in cases:
        proc = run_grader(
            "grade", str(graded_once / "subs"), "--out", str(graded_once / "out"),
            "--course", str(graded_once / "course"), *extra,
        )  # fmt: skip
        assert proc.returncode == 2
        assert proc.stderr == line + "\n"
    assert stored(graded_once / "out") == before
