"""Deadlines and overrides through the real CLI, the real sandbox and the real store:
the bundled examples graded once with a deadline, hand-in times from a CSV, an
extension and overrides; then graded again with the deadline moved and an override
changed, which grades nothing again and still applies every adjustment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_grader

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples" / "submissions"

COURSE = """\
title: Deadlines
order: [tensor-ops]
due: {due}
late:
  per_day: 10%
  cap: 50%
  grace_days: 1
"""

OVERRIDES = """\
- student: ben_typical_mistakes
  exercise: tensor-ops
  check: column_mean of a tall matrix
  points: {points}
  comment: the right idea; the transpose is a slip
  by: Prof. Lee
- student: ada_correct
  exercise: tensor-ops
  check: no_such_check
  delta: 1
  comment: for a check that was renamed
  by: TA Kim
"""


def course_with_deadlines(tmp_path: Path, due: str, points: float) -> Path:
    course = tmp_path / "course"
    if not course.exists():
        (course / "exercises").mkdir(parents=True)
        shutil.copy(ROOT / "exercises" / "tensor_ops.yaml", course / "exercises")
        shutil.copytree(ROOT / "solutions", course / "solutions")
    (course / "course.yaml").write_text(COURSE.format(due=due))
    (course / "overrides.yaml").write_text(OVERRIDES.format(points=points))
    return course


def exercise_of(data: dict, student: str) -> dict:
    s = next(s for s in data["students"] if s["id"] == student)
    return s["exercises"][0]


def test_deadlines_and_overrides_survive_an_incremental_run(tmp_path: Path):
    subs = tmp_path / "subs"
    shutil.copytree(EXAMPLES, subs)
    times = tmp_path / "times.csv"
    times.write_text(
        "student,submitted_at\n"
        "ada_correct,2026-03-03T00:00:01+01:00\n"  # a day and a second: 2 days, 1 grace
        "ben_typical_mistakes,2026-03-01T18:00:00-05:00\n"  # the due's very instant
        "cho_notebooks,2026-03-04T00:00:00+01:00\n"  # a day after its extension: the grace day
    )
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student,exercise,due\ncho_notebooks,tensor-ops,2026-03-03T00:00:00Z\n")
    course = course_with_deadlines(tmp_path, "2026-03-02T00:00:00+01:00", 4)
    out = tmp_path / "out"
    args = ["grade", str(subs), "--course", str(course), "--out", str(out)]
    args += ["--submitted-at", str(times), "--extensions", str(extensions)]
    first = run_grader(*args)
    assert first.returncode == 0, first.stderr
    assert "NOT APPLIED: overrides.yaml:7: override of ada_correct, tensor-ops, check " in (
        first.stderr
    )
    assert "1 adjustment(s) NOT APPLIED" in first.stderr
    data = json.loads((out / "results.json").read_text())
    ada = exercise_of(data, "ada_correct")
    max_score = ada["max_score"]
    assert ada["late"]["days_late"] == 2 and ada["late"]["seconds_late"] == 86401
    assert ada["late"]["grace_days"] == 1
    assert ada["raw_score"] == max_score and ada["score"] == pytest.approx(0.9 * max_score)
    ben = exercise_of(data, "ben_typical_mistakes")
    assert ben["late"]["days_late"] == 0
    column = next(c for c in ben["checks"] if c["name"] == "column_mean of a tall matrix")
    assert (column["score"], column["raw_score"]) == (2, 0)  # 4 asked, clamped to its 2
    assert "clamped to the 2 points there are" in ben["adjustments"][0]["clamped"]
    cho = exercise_of(data, "cho_notebooks")
    assert cho["late"]["extension"] and cho["late"]["days_late"] == 1
    assert cho["late"]["grace_days"] == 1 and cho["raw_score"] is None  # the grace day covers it
    csv_head = (out / "grades.csv").read_text().splitlines()[0]
    assert csv_head == "student,tensor-ops,total,tensor-ops (automatic),total (automatic)"
    page = (out / "ada_correct.html").read_text()
    assert "2 days late" in page and "Automatic grading gave" in page
    index = (out / "index.html").read_text()
    assert "NOT APPLIED" in index and "Prof. Lee" in index

    # The due moves a day later and the override changes: nothing is graded again.
    course_with_deadlines(tmp_path, "2026-03-03T00:00:00+01:00", 0)
    again = run_grader(*args)
    assert again.returncode == 0, again.stderr
    assert "nothing to grade: all 3 submissions unchanged" in again.stderr
    data = json.loads((out / "results.json").read_text())
    ada = exercise_of(data, "ada_correct")
    assert ada["late"]["days_late"] == 1 and ada["score"] == max_score  # the grace day
    ben = exercise_of(data, "ben_typical_mistakes")
    column = next(c for c in ben["checks"] if c["name"] == "column_mean of a tall matrix")
    assert column["score"] == 0 and ben["adjustments"][0]["asked"] == "points 0"
    assert "2 days late" not in (out / "ada_correct.html").read_text()  # the page was rewritten


def test_a_mistake_in_overrides_yaml_stops_the_run_at_its_line(tmp_path: Path):
    course = course_with_deadlines(tmp_path, "2026-03-02T00:00:00+01:00", 1)
    (course / "overrides.yaml").write_text(
        "- student: ada\n  exercise: tensor-ops\n  points: 1\n  delta: 2\n  comment: c\n  by: me\n"
    )
    proc = run_grader(
        "grade", str(EXAMPLES), "--course", str(course), "--out", str(tmp_path / "out")
    )
    assert proc.returncode == 2
    assert "grader: overrides.yaml:1: an override gives either 'points'" in proc.stderr
    (course / "overrides.yaml").unlink()
    (course / "course.yaml").write_text("title: T\ndue: 2026-03-02T00:00:00\n")
    proc = run_grader(
        "grade", str(EXAMPLES), "--course", str(course), "--out", str(tmp_path / "out")
    )
    assert proc.returncode == 2 and "course.yaml:2: key 'due':" in proc.stderr
