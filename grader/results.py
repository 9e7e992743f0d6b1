"""The canonical results model. Every output (HTML, CSV, JSON, ...) is a pure function
of a ``GradingRun``; nothing else is read when writing reports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "error", "timeout", "missing"]
STATUSES: tuple[str, ...] = ("passed", "failed", "error", "timeout", "missing")


@dataclass
class CheckResult:
    name: str
    score: float
    max_score: float
    status: Status
    message: str
    entry: str | None = None
    hint: str | None = None
    # Student-facing detail for reports: e.g. expected/actual shapes and a few values.
    details: dict[str, Any] = field(default_factory=dict)
    output: str = ""  # what the student's code printed during this check
    traceback: list[dict[str, Any]] = field(default_factory=list)  # student's own frames
    seconds: float = 0.0
    # From the exercise: visible, hidden, after_due_date or after_published (Gradescope's words).
    visibility: str = "visible"
    # Pictures for reports, as plain data (grader/reports/figures/ draws them).
    figures: list[dict[str, Any]] = field(default_factory=list)
    # The student's code around the lines that matter (grader/submissions/excerpts.py).
    excerpts: list[dict[str, Any]] = field(default_factory=list)
    # The automatic score, when an override changed ``score`` (grading/adjustments.py).
    raw_score: float | None = None


@dataclass
class Adjustment:
    """A change made to a score after automatic grading: a late penalty or an
    instructor's override (grading/adjustments.py applies them)."""

    kind: Literal["late", "override"]
    points: float  # what it changed, as applied (negative: points taken off)
    reason: str  # a late penalty's rule, or the override's comment
    check: str | None = None  # the check it changed; None: the whole exercise
    by: str = ""  # who made an override
    asked: str = ""  # what an override asked for ("points 3", "delta -1")
    clamped: str = ""  # said when the result was clamped to [0, max]
    source: str = ""  # where it is written ("overrides.yaml:12")


@dataclass
class Lateness:
    """When an exercise was handed in, against its deadline."""

    submitted_at: str  # ISO 8601, as the source gave it
    source: str  # where the time comes from ("file modification times", ...)
    due: str  # ISO 8601, the deadline that applied (an extension's, if any)
    extension: bool = False  # the due is a per-student extension
    seconds_late: float = 0.0  # 0 when on time
    days_late: int = 0  # each day or part of a day late counts as one
    grace_days: int = 0  # of those, covered by the student's grace days
    rule: str = ""  # the late policy, in words


@dataclass
class ExerciseResult:
    id: str
    title: str
    score: float
    max_score: float
    status: Status
    checks: list[CheckResult]
    file: str | None = None  # the submitted file that was graded
    message: str = ""  # exercise-level explanation (missing file, import error, ...)
    notes: list[str] = field(default_factory=list)
    output: str = ""  # what the student's code printed while loading
    traceback: list[dict[str, Any]] = field(default_factory=list)
    excerpts: list[dict[str, Any]] = field(default_factory=list)
    # False when the student did not cause this result: the grader's process in the
    # sandbox died or stopped, or the grader failed (an internal error). Such a result
    # is shown, but never reused: the next run grades it again.
    final: bool = True
    # After automatic grading (grading/adjustments.py): the automatic score when
    # adjustments changed ``score``, each adjustment, and the hand-in time.
    raw_score: float | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    late: Lateness | None = None

    @property
    def automatic_score(self) -> float:
        return self.score if self.raw_score is None else self.raw_score

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExerciseResult:
        """The inverse of ``plain`` (and of ``asdict``), exactly."""
        late = data.get("late")
        return cls(
            **{
                **data,
                "checks": [CheckResult(**c) for c in data["checks"]],
                "adjustments": [Adjustment(**a) for a in data.get("adjustments", [])],
                "late": Lateness(**late) if isinstance(late, dict) else None,
            }
        )


@dataclass
class StudentResult:
    id: str
    score: float
    max_score: float
    exercises: list[ExerciseResult]
    # The automatic total, when adjustments changed an exercise's score.
    raw_score: float | None = None

    @property
    def automatic_score(self) -> float:
        return self.score if self.raw_score is None else self.raw_score

    @classmethod
    def of(cls, student: str, exercises: list[ExerciseResult]) -> StudentResult:
        """A student's result: their exercises, with the totals summed from them."""
        adjusted = any(e.raw_score is not None for e in exercises)
        return cls(
            id=student,
            score=rounded(sum(e.score for e in exercises)),
            max_score=rounded(sum(e.max_score for e in exercises)),
            exercises=exercises,
            raw_score=rounded(sum(e.automatic_score for e in exercises)) if adjusted else None,
        )


@dataclass
class GradingRun:
    course: str
    grader_version: str
    sandbox: str
    seed: int
    students: list[StudentResult]
    warnings: list[str] = field(default_factory=list)
    # For the instructor (run summary, overview; never a student's page): overrides in
    # overrides.yaml or extensions that match no student, exercise or check of this run.
    unmatched_adjustments: list[str] = field(default_factory=list)
    # Where hand-in times came from, when the course has deadlines ("" otherwise).
    submitted_from: str = ""

    @property
    def adjusted(self) -> bool:
        """Some score was changed after automatic grading, or deadlines apply."""
        return bool(self.submitted_from) or any(s.raw_score is not None for s in self.students)

    def to_dict(self) -> dict[str, Any]:
        """The same as ``dataclasses.asdict``, without its deep copies of every value
        (several times faster for a class of hundreds of students)."""
        return plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradingRun:
        students = [
            StudentResult(
                **{**s, "exercises": [ExerciseResult.from_dict(e) for e in s["exercises"]]}
            )
            for s in data["students"]
        ]
        return cls(**{**data, "students": students})


def plain(value: Any) -> Any:
    """A results dataclass as plain dicts and lists (``asdict`` without deep copies)."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


_CELL_FRAME = re.compile(r"cell (\d+)")


def frame_cell(file: str) -> int | None:
    """The notebook cell a traceback frame's ``file`` names ("cell 5": the runner
    compiles each cell's code under that name), or None for a file of the submission."""
    found = _CELL_FRAME.fullmatch(file)
    return int(found.group(1)) if found else None


# How the grader begins the message of a check it did not score (grading/grader.py): a
# gate failed (a forbidden call), the entry point does not run, or the sandbox's process
# died. Such a check counts 0 points, but says nothing about what the check itself tests.
NOT_SCORED = "not scored: "


def not_scored(check: CheckResult) -> bool:
    """The check did not pass because it was not scored, not because it failed."""
    return check.status != "passed" and check.message.startswith(NOT_SCORED)


def exercise_status(checks: list[CheckResult]) -> Status:
    """An exercise passes when every check passed; otherwise the most telling status."""
    statuses = {c.status for c in checks}
    if not checks or statuses == {"passed"}:
        return "passed"
    for status in ("missing", "timeout", "error"):
        if statuses == {status}:
            return status  # type: ignore[return-value]
    return "failed"


def rounded(points: float) -> float:
    return round(points + 0.0, 4)
