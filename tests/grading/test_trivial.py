"""grader/grading/trivial.py's table rows: which checks a trivial implementation passed,
and which of them the exercise says stand alone (those are listed, never warned about)."""

from __future__ import annotations

from pathlib import Path

from judging import write_course

from grader.course.loading import load_course
from grader.course.model import Exercise
from grader.grading.trivial import row
from grader.results import CheckResult, ExerciseResult

SHAPE = "name: keeps the shape\njudge: match\ncall: [{randn: [3]}]\nwith: {values: false}"
EMPTY = (
    "name: an empty input gives an empty result\njudge: match\ncall: [{randn: [0]}]\n"
    "alone: The answer for an empty input is empty, so zeros get it right too."
)
DOUBLES = "name: doubles\njudge: match\ncall: [{randn: [3]}]"


def exercise(tmp_path: Path) -> Exercise:
    return load_course(write_course(tmp_path, SHAPE, EMPTY, DOUBLES)).exercises[0]


def graded(ex: Exercise, passed: set[str]) -> ExerciseResult:
    checks = [
        CheckResult(
            name=c.name,
            score=c.points if c.name in passed else 0.0,
            max_score=c.points,
            status="passed" if c.name in passed else "failed",
            message="",
            entry="f",
        )
        for c in ex.checks
    ]
    return ExerciseResult(ex.id, ex.title, 0.0, 6.0, "failed", checks)


def test_a_pass_the_exercise_explains_is_listed_but_not_warned_about(tmp_path: Path):
    ex = exercise(tmp_path)
    zeros = row(ex, "f", "zeros", graded(ex, {"keeps the shape", EMPTY.split("\n")[0][6:]}))
    assert [p.check for p in zeros.unexplained] == ["keeps the shape"]
    assert zeros.line() == (
        "unit: f returns zeros shaped like the reference's result: passes 'keeps the shape' "
        "(2 pts), 'an empty input gives an empty result' (2 pts, stands alone)"
    )
    assert zeros.line(only_unexplained=True) == (
        "unit: f returns zeros shaped like the reference's result: passes 'keeps the shape' (2 pts)"
    )
    assert zeros.as_data()["passes"][1]["alone"].startswith("The answer for an empty input")


def test_nothing_passed_and_only_explained_passes(tmp_path: Path):
    ex = exercise(tmp_path)
    none = row(ex, "f", "none", graded(ex, set()))
    assert none.line() == "unit: f returns None: passes nothing" and not none.unexplained
    empty = row(ex, "f", "zeros", graded(ex, {"an empty input gives an empty result"}))
    assert empty.passes and not empty.unexplained
