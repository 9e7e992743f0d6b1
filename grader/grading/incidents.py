"""The last line of defence: a student the grader itself failed on (its staging, run or
judging raised, say an OSError when another process removed the pool's folder) costs
only that student, never the run.

Such a student gets an error on every exercise of the job, with a plain message and
``final`` False (the next run grades it again); the traceback goes to ``<out>/grader.log``
for the instructor, with one line on the terminal, never into a report.

Standard library only: used before torch is imported, and on the cluster's client.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from grader.course.model import Exercise
from grader.results import CheckResult, ExerciseResult, rounded

INTERNAL_ERROR = (
    "the grader could not grade this submission (an internal error); it will be graded "
    "again on the next run"
)
LOG_NAME = "grader.log"


def internal_error_results(exercises: list[Exercise]) -> list[ExerciseResult]:
    """Every exercise of a job the grader failed on: an error, not final."""
    return [unscored_result(ex, INTERNAL_ERROR) for ex in exercises]


def unscored_result(ex: Exercise, message: str) -> ExerciseResult:
    """An exercise the student did not cause the result of (the grader failed on it, or
    it was never graded): every check an error with ``message``, 0 points, not final."""
    checks = [
        CheckResult(
            name=spec.name,
            score=0.0,
            max_score=rounded(spec.points),
            status="error",
            message=message,
            entry=spec.entry,
            hint=spec.hint,
            visibility=spec.visibility,
        )
        for spec in ex.checks
    ]
    return ExerciseResult(
        id=ex.id,
        title=ex.title,
        score=0.0,
        max_score=rounded(sum(c.max_score for c in checks)),
        status="error",
        checks=checks,
        message=message,
        final=False,
    )


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(one line, the whole traceback) of an exception, for ``IncidentLog.record``."""
    text = str(exc)
    line = f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
    return line, "".join(traceback.format_exception(exc))


class IncidentLog:
    """Internal errors of a run: tracebacks appended to ``<out>/grader.log`` (created
    at the first one), and one line each through ``say`` (a terminal line, made safe
    there). Safe to use from the grader's threads."""

    def __init__(self, out: Path, say: Callable[[str], None]) -> None:
        self.path = Path(out) / LOG_NAME
        self.say = say
        self.students: list[str] = []
        self._lock = threading.Lock()

    def record(self, student: str, what: str, summary: str, details: str) -> None:
        """``student`` could not be graded: ``what`` the grader was doing ("grading {}",
        with {} for the student), ``summary`` in one line, ``details`` (a traceback) for
        the log."""
        with self._lock:
            self.students.append(student)
            try:
                with open(self.path, "a", encoding="utf-8", errors="backslashreplace") as log:
                    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
                    log.write(
                        f"--- {stamp} internal error while {what.format(repr(student))}\n"
                        f"{details.rstrip()}\n\n"
                    )
                where = f"traceback in {self.path}"
            except OSError as exc:  # the log is a courtesy: its failure must not end the run
                where = f"the traceback could not be written to {self.path} ({exc})"
            self.say(
                f"grader: internal error while {what.format(student)} ({summary}); "
                f"it will be graded again on the next run; {where}"
            )

    def exception(self, student: str, what: str, exc: BaseException) -> None:
        self.record(student, what, *describe_exception(exc))
