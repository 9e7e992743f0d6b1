"""The progress line of one student (grading/class_run.py): on a re-run that grades only
some exercises again, it shows the student's total, not the re-graded exercises' score."""

from __future__ import annotations

from grader.grading.class_run import student_line
from grader.results import CheckResult, ExerciseResult


def result(ex_id: str, score: float, most: float) -> ExerciseResult:
    check = CheckResult("c", score, most, "passed" if score == most else "failed", "")
    return ExerciseResult(ex_id, ex_id, score, most, check.status, [check])


def test_a_first_run_shows_the_total_of_what_it_graded() -> None:
    graded = [result("tensor-ops", 8, 8), result("mlp", 4, 15)]
    assert student_line("alice", graded, {}, 0.43) == "alice: 12/23 (0.4 s)"


def test_a_rerun_shows_the_students_total_and_what_was_regraded() -> None:
    kept = {"mlp": result("mlp", 4, 15), "training": result("training", 10.5, 12)}
    line = student_line("alice", [result("tensor-ops", 8, 8)], kept, 1.25)
    assert line == "alice: 22.5/35, re-graded tensor-ops (1.2 s)"  # not "alice: 8/8"


def test_many_regraded_exercises_are_counted_not_named() -> None:
    graded = [result(f"ex{i}", 1, 1) for i in range(4)]
    line = student_line("bob", graded, {"kept": result("kept", 0, 2)}, 2.0)
    assert line == "bob: 4/6, re-graded 4 of 5 exercises (2.0 s)"


def test_a_forced_regrade_of_every_exercise_says_so() -> None:
    graded = [result("tensor-ops", 8, 8), result("mlp", 4, 15)]
    line = student_line("ada", graded, {}, 0.43, forced=True)
    assert line == "ada: 12/23, re-graded every exercise (0.4 s)"
    kept = {"mlp": result("mlp", 4, 15)}
    assert student_line("ada", graded[:1], kept, 0.4, forced=True) == (
        "ada: 12/23, re-graded tensor-ops (0.4 s)"
    )
