"""What happens to scores after automatic grading: instructors' overrides and late
penalties, applied on top of the results (fresh or read from the store), never stored
with them. A re-grade or an incremental run therefore keeps every adjustment, and
changing one (a deadline, an override, an extension) grades nothing again.

For each student, exercise by exercise in course order:

1. overrides of a check (``points`` or ``delta``), each clamped to [0, the check's points];
2. overrides of the whole exercise, on the score after 1, clamped to [0, its points];
3. the late penalty, on the score after 2: per day or part of a day past the due (an
   extension's due for that student, if any), after the student's grace days, at most
   the cap, and never below 0.

Grace days are the student's for the whole course: they are used up in course order,
each late exercise taking as many as it needs (all its days late, or what is left), so
a student can tell in advance which exercise the next grace day goes to.

An override or extension that matches no student, exercise or check of the run is not
applied and is listed in ``GradingRun.unmatched_adjustments`` (run summary, overview).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from grader.course.deadlines import DAY, Extension, LatePolicy, read_extensions
from grader.course.model import Course, Exercise
from grader.course.overrides import Override, load_overrides
from grader.results import (
    Adjustment,
    CheckResult,
    ExerciseResult,
    GradingRun,
    Lateness,
    StudentResult,
    rounded,
)
from grader.submissions.times import HandIn, read_times

EXTENSIONS_FILENAME = "extensions.csv"


@dataclass
class Adjustments:
    """Everything applied after grading, read before any student code runs."""

    course: Course
    overrides: list[Override] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    hand_in: HandIn | None = None  # None: no deadline anywhere in the course

    def __call__(self, run: GradingRun) -> GradingRun:
        return apply(run, self)


def has_deadlines(course: Course) -> bool:
    return course.due is not None or any(ex.due is not None for ex in course.exercises)


def prepare(
    course: Course,
    folders: dict[str, Path],
    submitted_at: str | None = None,
    extensions: Path | None = None,
) -> Adjustments:
    """Read overrides.yaml, the extensions (``extensions``, else extensions.csv beside
    course.yaml if there is one) and, when there is a deadline (the course's, an
    exercise's or an extension), the hand-in times of the students in ``folders``
    (id -> folder)."""
    if extensions is None and (course.root / EXTENSIONS_FILENAME).is_file():
        extensions = course.root / EXTENSIONS_FILENAME
    granted = read_extensions(extensions) if extensions is not None else []
    # An extension is a deadline too, for its student, even in a course without one.
    timed = has_deadlines(course) or bool(granted)
    return Adjustments(
        course=course,
        overrides=load_overrides(course.root),
        extensions=granted,
        hand_in=read_times(submitted_at, folders) if timed else None,
    )


def apply(run: GradingRun, adj: Adjustments) -> GradingRun:
    """``run`` with the adjustments applied: a new run; ``run`` itself is left as it is."""
    course = adj.course
    exercises = {ex.id: ex for ex in course.exercises}
    unmatched: list[str] = []
    by_key: dict[tuple[str, str], list[Override]] = {}
    for override in adj.overrides:
        by_key.setdefault((override.student, override.exercise), []).append(override)
    applied: set[int] = set()
    students = []
    for student in run.students:
        grace = course.late.grace_days if course.late else 0
        results = []
        for result in student.exercises:
            mine = by_key.get((student.id, result.id), [])
            result = _override(result, mine, unmatched)
            applied.update(id(o) for o in mine)
            ex = exercises.get(result.id)
            if ex is not None and adj.hand_in is not None:
                result, grace = _late(result, ex, course, student.id, adj, grace)
            results.append(result)
        students.append(StudentResult.of(student.id, results))
    ids = {s.id for s in run.students}
    for override in adj.overrides:
        if id(override) not in applied:
            why = (
                f"no student '{override.student}' in this run"
                if override.student not in ids
                else f"no exercise '{override.exercise}' in the course"
            )
            unmatched.append(f"{override.source}: override of {override.target()}: {why}")
    for ext in adj.extensions:
        if ext.student not in ids:
            unmatched.append(f"extension of line {ext.line}: no student '{ext.student}'")
        elif ext.exercise is not None and ext.exercise not in exercises:
            unmatched.append(f"extension of line {ext.line}: no exercise '{ext.exercise}'")
    if adj.hand_in is not None:
        unmatched += [f"hand-in time of {p}" for p in adj.hand_in.problems]
    return replace(
        run,
        students=students,
        unmatched_adjustments=[*run.unmatched_adjustments, *unmatched],
        submitted_from=adj.hand_in.source if adj.hand_in is not None else run.submitted_from,
    )


# ------------------------------------------------------------------ overrides
def _clamp(value: float, most: float) -> tuple[float, str]:
    if value < 0:
        return 0.0, f"asked for {value:g}, clamped to 0"
    if value > most:
        return most, f"asked for {value:g}, clamped to the {most:g} points there are"
    return value, ""


def _override(
    result: ExerciseResult, overrides: list[Override], unmatched: list[str]
) -> ExerciseResult:
    if not overrides:
        return result
    checks = list(result.checks)
    names = {c.name: i for i, c in enumerate(checks)}
    made: list[Adjustment] = []
    for o in (o for o in overrides if o.check is not None):
        if o.check not in names:
            unmatched.append(
                f"{o.source}: override of {o.target()}: no check '{o.check}' in {result.id} "
                "(renamed or removed?)"
            )
            continue
        check = checks[names[o.check]]
        asked = o.points if o.points is not None else check.score + (o.delta or 0.0)
        new, clamped = _clamp(asked, check.max_score)
        made.append(_made(o, rounded(new - check.score), clamped))
        checks[names[o.check]] = _rescored(check, new)
    score = sum(c.score for c in checks) + (result.score - sum(c.score for c in result.checks))
    for o in (o for o in overrides if o.check is None):
        asked = o.points if o.points is not None else score + (o.delta or 0.0)
        new, clamped = _clamp(asked, result.max_score)
        made.append(_made(o, rounded(new - score), clamped))
        score = new
    if not made:
        return result
    return replace(
        result,
        checks=checks,
        score=rounded(score),
        raw_score=result.automatic_score,
        adjustments=[*result.adjustments, *made],
    )


def _made(o: Override, points: float, clamped: str) -> Adjustment:
    return Adjustment(
        kind="override",
        points=points,
        reason=o.comment,
        check=o.check,
        by=o.by,
        asked=o.asked(),
        clamped=clamped,
        source=o.source,
    )


def _rescored(check: CheckResult, score: float) -> CheckResult:
    raw = check.score if check.raw_score is None else check.raw_score
    return replace(check, score=rounded(score), raw_score=raw)


# ------------------------------------------------------------------ deadlines
def policy_for(ex: Exercise, course: Course) -> LatePolicy:
    """The exercise's late policy: its own keys over the course's."""
    base = course.late or LatePolicy()
    own = ex.late
    if own is None:
        return base
    return LatePolicy(
        per_day=own.per_day if own.per_day is not None else base.per_day,
        cap=own.cap if own.cap is not None else base.cap,
        grace_days=base.grace_days,
    )


def due_for(
    ex: Exercise, course: Course, student: str, extensions: list[Extension]
) -> tuple[datetime | None, bool]:
    """The student's due for ``ex``: an extension for this exercise, else one for every
    exercise, else the exercise's due, else the course's; and whether it is an extension."""
    for wanted in (ex.id, None):
        for ext in extensions:
            if ext.student == student and ext.exercise == wanted:
                return ext.due, True
    return (ex.due if ex.due is not None else course.due), False


def days_late(seconds: float) -> int:
    """Each day or part of a day counts as one; handed in at the due is on time."""
    return math.ceil(seconds / DAY) if seconds > 0 else 0


def _late(
    result: ExerciseResult,
    ex: Exercise,
    course: Course,
    student: str,
    adj: Adjustments,
    grace: int,
) -> tuple[ExerciseResult, int]:
    """The exercise with its lateness (and penalty), and the grace days left."""
    assert adj.hand_in is not None
    due, extended = due_for(ex, course, student, adj.extensions)
    handed = adj.hand_in.times.get(student)
    if due is None or handed is None or result.file is None:
        return result, grace  # no deadline, no time known, or nothing handed in
    policy = policy_for(ex, course)
    seconds = (handed - due).total_seconds()
    days = days_late(seconds)
    used = min(grace, days) if policy.per_day is not None else 0
    late = Lateness(
        submitted_at=handed.astimezone(due.tzinfo).isoformat(),  # in the due's zone, to compare
        source=adj.hand_in.source,
        due=due.isoformat(),
        extension=extended,
        seconds_late=max(seconds, 0.0),
        days_late=days,
        grace_days=used,
        rule=policy.words(),
    )
    result = replace(result, late=late)
    charged = days - used
    if policy.per_day is None or charged <= 0:
        return result, grace - used
    penalty = policy.per_day.points(result.max_score) * charged
    capped = ""
    if policy.cap is not None and penalty > policy.cap.points(result.max_score):
        penalty = policy.cap.points(result.max_score)
        capped = f", capped at {policy.cap.words()}"
    if penalty <= 0:  # a policy of 0 a day: lateness shown, nothing taken
        return result, grace - used
    taken = min(penalty, result.score)
    clamped = "" if taken == penalty else f"{penalty:g} points asked; the score stops at 0"
    grace_words = f", {used} of them covered by grace days" if used else ""
    reason = (
        f"{days} day{'s' if days != 1 else ''} late{grace_words}: {policy.words()}"
        f" ({charged} day{'s' if charged != 1 else ''} charged{capped})"
    )
    adjustment = Adjustment(kind="late", points=rounded(-taken), reason=reason, clamped=clamped)
    return (
        replace(
            result,
            score=rounded(result.score - taken),
            raw_score=result.automatic_score,
            adjustments=[*result.adjustments, adjustment],
        ),
        grace - used,
    )
