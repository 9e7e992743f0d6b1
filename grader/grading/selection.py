"""``grader grade --only STUDENT --exercise ID``: re-grade some students or exercises.

The instructor asks for it, so the chosen (student, exercise) pairs are graded again even
when the store says nothing changed. Everything else is shown exactly as the store holds
it, whatever it was graded under, and its rows are never written: a re-grade of one
student must not quietly re-grade, or re-date, the rest of the class. What the store
does not hold at all is shown as not graded yet (never saved, never final), so the
reports still cover the whole class.

Standard library only: the selection is decided before torch is imported.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.course.model import Course, Exercise
from grader.errors import GraderError
from grader.grading.incidents import unscored_result
from grader.grading.store import Stored
from grader.results import ExerciseResult

NAMED = 5  # students or exercises named in a line; beyond, only how many
SUGGESTIONS = 3  # close matches offered for an unknown id
LISTED = 12  # a course with at most this many exercises lists them after an unknown id

NOT_GRADED = (
    "not graded yet: this run re-graded only some students or exercises (--only, "
    "--exercise); a run without them grades it"
)


@dataclass(frozen=True)
class Selection:
    """What to re-grade: student ids in class order, exercise ids in course order; an
    empty tuple means all of them."""

    students: tuple[str, ...] = ()
    exercises: tuple[str, ...] = ()

    def has_student(self, student: str) -> bool:
        return not self.students or student in self.students

    def has(self, student: str, exercise: str) -> bool:
        return self.has_student(student) and (not self.exercises or exercise in self.exercises)

    def exercises_of(self, course: Course) -> list[Exercise]:
        return [ex for ex in course.exercises if not self.exercises or ex.id in self.exercises]

    def describe(self, graded: list[str], total: int) -> str:
        """What was re-graded, for the summary: "tensor-ops for ada, ben"."""
        what = _names(list(self.exercises), "exercises") if self.exercises else None
        if not self.students:
            who = f"every student ({total})" if total != 1 else "the only student"
            return f"{what} for {who}" if what else who
        who = _names(graded, "students") if graded else "no one"
        return f"{what} for {who}" if what else f"{who} (every exercise)"


def select(
    course: Course,
    folders: list[Path],
    ids: list[str],
    only: Collection[str],
    exercises: Collection[str],
) -> Selection | None:
    """The selection asked for, None when nothing was (grade what changed). A student is
    named by their id or their folder's name; an unknown name is a GraderError of one
    line with the close matches."""
    if not only and not exercises:
        return None
    by_name = {folder.name: student for folder, student in zip(folders, ids, strict=True)}
    by_name.update({student: student for student in ids})
    known_ex = [ex.id for ex in course.exercises]
    problems = [
        _unknown("student", name, ids, f"{len(ids)} submission(s)")
        for name in only
        if name not in by_name
    ]
    problems += [
        _unknown(
            "exercise",
            name,
            known_ex,
            ("the course has " + ", ".join(known_ex))
            if len(known_ex) <= LISTED
            else f"{len(known_ex)} exercises in the course",
        )
        for name in exercises
        if name not in known_ex
    ]
    if problems:
        raise GraderError("; ".join(dict.fromkeys(problems)))
    students = {by_name[name] for name in only}
    chosen_ex = set(exercises)
    return Selection(
        tuple(s for s in ids if s in students), tuple(e for e in known_ex if e in chosen_ex)
    )


def _unknown(kind: str, name: str, known: list[str], otherwise: str) -> str:
    option = "--only" if kind == "student" else "--exercise"
    lowered = {k.lower(): k for k in known}
    close = [lowered[m] for m in difflib.get_close_matches(name.lower(), lowered, n=SUGGESTIONS)]
    hint = f"did you mean {' or '.join(close)}?" if close else f"no close match; {otherwise}"
    return f"{option} {name}: no such {kind} ({hint})"


def kept_results(
    selection: Selection,
    course: Course,
    ids: list[str],
    stored: dict[str, dict[str, Stored]],
    submission_fps: dict[str, str],
    exercise_fps: dict[str, str],
) -> tuple[dict[str, dict[str, ExerciseResult]], int]:
    """The stored results of every pair outside ``selection`` (student -> exercise id ->
    result), as stored; and how many of them a normal run would grade again (their
    submission, exercise or grader changed since, or they are not final)."""
    kept: dict[str, dict[str, ExerciseResult]] = {}
    stale = 0
    for student in ids:
        rows = stored.get(student, {})
        mine = kept.setdefault(student, {})
        for ex in course.exercises:
            row = rows.get(ex.id)
            if row is None or selection.has(student, ex.id):
                continue
            mine[ex.id] = row.result
            stale += not row.current(submission_fps.get(student), exercise_fps[ex.id])
    return kept, stale


def not_graded_result(ex: Exercise) -> ExerciseResult:
    """An exercise outside the selection that the store does not hold: shown, never kept."""
    return unscored_result(ex, NOT_GRADED)


def not_graded_warning(missing: int) -> str:
    return (
        f"{missing} result(s) outside --only/--exercise were never graded: they show as "
        "not graded yet (0 points); run `grader grade` without --only or --exercise to "
        "grade them"
    )


def regrade_summary(
    selection: Selection,
    graded: list[str],
    total: int,
    first: int,
    seconds: float,
    failed: int,
    stale: int,
) -> str:
    """The run's last line after a re-grade: what was re-graded, and what was not."""
    text = f"re-graded {selection.describe(graded, total)} in {seconds:.1f} s"
    if first:
        text += f" ({first} of them for the first time)"
    if failed:
        text += f"; {failed} could not be graded"
    others = total - len(selection.students) if selection.students else 0
    kept = ["the other exercises"] if selection.exercises else []
    if others:
        kept.append("the other student" if others == 1 else f"the other {others} students")
    if kept:
        text += f"; {' and '.join(kept)} shown as stored, untouched"
    if stale:
        many = stale != 1
        text += (
            f"; {stale} result{'s' * many} shown as stored {'are' if many else 'is'} out of "
            "date (a submission, an exercise or the grader changed since): a run without "
            "--only or --exercise grades them again"
        )
    return text


def _names(items: Iterable[str], what: str) -> str:
    items = list(items)
    if len(items) <= NAMED:
        return ", ".join(items)
    return f"{', '.join(items[:NAMED])} and {len(items) - NAMED} more {what}"
