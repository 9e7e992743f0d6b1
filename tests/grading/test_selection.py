"""What `grader grade --only/--exercise` re-grades and what it keeps (grading/selection.py),
and the store's every-row read it keeps them with. Fast: the real course, no sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from grader.course.loading import load_course
from grader.course.model import Course
from grader.errors import GraderError
from grader.grading import selection
from grader.grading.selection import (
    NOT_GRADED,
    Selection,
    kept_results,
    not_graded_result,
    regrade_summary,
    select,
)
from grader.grading.store import Store, Stored
from grader.results import CheckResult, ExerciseResult

FOLDERS = [Path("subs/ada"), Path("subs/Ben Bell"), Path("subs/cho")]
IDS = ["ada", "ben", "cho"]  # "Ben Bell" has the id ben, say: either name selects him


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(ROOT, resolve_helpers=False)


def result(ex_id: str, final: bool = True) -> ExerciseResult:
    check = CheckResult("c", 1.0, 1.0, "passed", "")
    return ExerciseResult(ex_id, ex_id, 1.0, 1.0, "passed", [check], final=final)


def test_nothing_asked_is_no_selection(course: Course) -> None:
    assert select(course, FOLDERS, IDS, [], []) is None


def test_names_come_back_in_class_and_course_order_once(course: Course) -> None:
    chosen = select(course, FOLDERS, IDS, ["cho", "Ben Bell", "cho"], ["tensor-ops", "tensor-init"])
    assert chosen == Selection(("ben", "cho"), ("tensor-init", "tensor-ops"))
    assert chosen.has("ben", "tensor-ops") and not chosen.has("ada", "tensor-ops")
    assert not chosen.has("ben", "derivative")
    assert [ex.id for ex in chosen.exercises_of(course)] == ["tensor-init", "tensor-ops"]
    everyone = select(course, FOLDERS, IDS, [], ["derivative"])
    assert everyone == Selection((), ("derivative",)) and everyone.has("ada", "derivative")
    whole = select(course, FOLDERS, IDS, ["ada"], [])
    assert whole is not None and len(whole.exercises_of(course)) == len(course.exercises)


@pytest.mark.parametrize(
    ("only", "exercises", "message"),
    [
        (["Ada"], [], "--only Ada: no such student (did you mean ada?)"),
        (["zed"], [], "--only zed: no such student (no close match; 3 submission(s))"),
        ([], ["tensor_ops"], "--exercise tensor_ops: no such exercise (did you mean tensor-ops?)"),
        (
            ["adda", "adda"],
            ["activation"],
            "--only adda: no such student (did you mean ada?); "
            "--exercise activation: no such exercise (did you mean activations?)",
        ),
    ],
)
def test_an_unknown_name_is_one_line_with_the_close_matches(
    course: Course, only: list[str], exercises: list[str], message: str
) -> None:
    with pytest.raises(GraderError) as caught:
        select(course, FOLDERS, IDS, only, exercises)
    assert str(caught.value) == message


def test_a_course_of_many_exercises_is_counted_not_listed(
    course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(GraderError, match=r"the course has tensor-init, text-to-ids, "):
        select(course, FOLDERS, IDS, [], ["zzz"])
    monkeypatch.setattr(selection, "LISTED", 10)
    with pytest.raises(GraderError, match=r"no close match; 11 exercises in the course\)$"):
        select(course, FOLDERS, IDS, [], ["zzz"])


def test_kept_results_are_those_outside_the_selection_as_stored(course: Course) -> None:
    fps = {ex.id: f"fp-{ex.id}" for ex in course.exercises}
    stored = {
        "ada": {
            "tensor-ops": Stored(result("tensor-ops"), "sub-ada", "fp-tensor-ops"),
            "derivative": Stored(result("derivative"), "sub-ada", "fp-old"),  # stale
            "gone": Stored(result("gone"), "sub-ada", "fp-gone"),  # not in the course
        },
        "ben": {
            "tensor-ops": Stored(result("tensor-ops"), "sub-old", "fp-tensor-ops"),  # stale
            "derivative": Stored(result("derivative", final=False), "sub-ben", "fp-derivative"),
        },
    }
    subs = {"ada": "sub-ada", "ben": "sub-ben", "cho": "sub-cho"}
    kept, stale = kept_results(Selection(("ada",), ("tensor-ops",)), course, IDS, stored, subs, fps)
    assert {s: sorted(r) for s, r in kept.items()} == {
        "ada": ["derivative"],
        "ben": ["derivative", "tensor-ops"],
        "cho": [],
    }
    assert kept["ben"]["derivative"] is stored["ben"]["derivative"].result
    assert stale == 3  # ada's derivative, ben's tensor-ops, ben's not-final derivative


def test_a_pair_never_graded_shows_as_not_graded_yet(course: Course) -> None:
    ex = next(ex for ex in course.exercises if ex.id == "tensor-ops")
    shown = not_graded_result(ex)
    assert (shown.status, shown.score, shown.final, shown.message) == (
        "error",
        0.0,
        False,
        NOT_GRADED,
    )
    assert shown.max_score == ex.max_score and len(shown.checks) == len(ex.checks)


def test_the_summary_says_what_was_regraded_and_what_was_kept() -> None:
    some = Selection(("ada", "ben"), ("tensor-ops",))
    assert regrade_summary(some, ["ada", "ben"], 5, 1, 3.21, 0, 0) == (
        "re-graded tensor-ops for ada, ben in 3.2 s (1 of them for the first time); the "
        "other exercises and the other 3 students shown as stored, untouched"
    )
    assert regrade_summary(Selection(("ada",)), ["ada"], 2, 0, 1.0, 0, 1) == (
        "re-graded ada (every exercise) in 1.0 s; the other student shown as stored, "
        "untouched; 1 result shown as stored is out of date (a submission, an exercise or "
        "the grader changed since): a run without --only or --exercise grades them again"
    )
    many = Selection((), tuple(f"ex{i}" for i in range(7)))
    assert regrade_summary(many, [], 1, 0, 2.0, 1, 0) == (
        "re-graded ex0, ex1, ex2, ex3, ex4 and 2 more exercises for the only student in "
        "2.0 s; 1 could not be graded; the other exercises shown as stored, untouched"
    )


def test_the_store_gives_every_row_whatever_it_was_graded_under(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.save_student("ada", "sub-1", [(0, "fp-a", result("a")), (1, "fp-b", result("b"))])
        store.save_student("ben", "sub-2", [(0, "fp-a", result("a", final=False))])
        rows = store.stored_many()
    assert rows["ada"]["b"] == Stored(result("b"), "sub-1", "fp-b")
    assert rows["ben"]["a"].result.final is False
    assert rows["ada"]["a"].current("sub-1", "fp-a")
    assert not rows["ada"]["a"].current("sub-1", "fp-other")
    assert not rows["ben"]["a"].current("sub-2", "fp-a")  # not final: never current
