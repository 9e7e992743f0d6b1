"""The last line of defence (grader/grading/incidents.py and its use in
grader/grading/class_run.py): a student the grader itself fails on is an internal error
for that student only, not final, with its traceback in <out>/grader.log and one line on
the terminal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import ROOT

from grader.course.loading import load_course
from grader.course.model import Course
from grader.grading import class_run
from grader.grading.incidents import INTERNAL_ERROR, IncidentLog, internal_error_results
from grader.sandbox.choice import choose
from grader.submissions.folders import Submission

COURSE = load_course(ROOT, resolve_helpers=False)


def test_internal_error_results_cover_every_check_and_are_not_final():
    exercises = COURSE.exercises[:3]
    results = internal_error_results(exercises)
    assert [r.id for r in results] == [ex.id for ex in exercises]
    for ex, result in zip(exercises, results, strict=True):
        assert result.status == "error" and result.message == INTERNAL_ERROR and not result.final
        assert result.score == 0 and result.max_score == ex.max_score
        assert [c.name for c in result.checks] == [c.name for c in ex.checks]
        assert {c.status for c in result.checks} == {"error"}


def test_the_log_gets_the_traceback_and_the_terminal_one_safe_line(tmp_path: Path):
    said: list[str] = []
    log = IncidentLog(tmp_path, said.append)
    try:
        {}["missing"]
    except KeyError as exc:
        log.exception("m_x\n::error::x", "grading {}", exc)
    text = (tmp_path / "grader.log").read_text()
    assert "internal error while grading 'm_x\\n::error::x'" in text and "Traceback" in text
    assert "KeyError: 'missing'" in text
    assert len(said) == 1 and "KeyError" in said[0] and str(tmp_path / "grader.log") in said[0]
    assert log.students == ["m_x\n::error::x"]


def test_a_folder_the_grader_cannot_read_costs_only_that_student(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Reading a submission is the grader's work too: should it raise (here made to, as a
    RecursionError or an OSError from the file system would), that student is an
    internal error, and the run completes."""
    subs = tmp_path / "subs"
    (subs / "ada").mkdir(parents=True)
    real = class_run.collect

    def collect(folder: Path, course: Course, student: str | None = None) -> Submission:
        if folder.name == "ada":
            raise RecursionError("maximum recursion depth exceeded")
        return real(folder, course, student)

    monkeypatch.setattr(class_run, "collect", collect)
    stream = io.StringIO()
    outcome = class_run.grade_course(
        COURSE, [subs / "ada"], tmp_path / "out", choose(), stream=stream
    )
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    [ada] = data["students"]
    assert ada["id"] == "ada" and all(
        not e["final"] and e["status"] == "error" for e in ada["exercises"]
    )
    assert "RecursionError" in (tmp_path / "out" / "grader.log").read_text()
    assert "internal error while reading the folder of ada" in stream.getvalue()
    assert outcome.summary.startswith("nothing graded: 1 submission could not be graded")
