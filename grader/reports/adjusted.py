"""Adjustments in words, for the text outputs (Gradescope, JUnit, GitHub): when an
exercise was handed in, against its due, and what changed its score after grading."""

from __future__ import annotations

from grader.reports.csv_report import format_points
from grader.results import ExerciseResult


def adjustment_lines(ex: ExerciseResult, indent: str = "") -> list[str]:
    """When the exercise was handed in and what changed its score after grading, as text
    (Gradescope's and JUnit's outputs)."""
    lines = []
    if ex.late is not None:
        late = ex.late
        how = f"{_days(late.days_late)} late" if late.days_late else "on time"
        if late.grace_days:
            how += f", {_days(late.grace_days)} of grace used"
        extended = " (extension)" if late.extension else ""
        lines.append(
            f"{indent}Handed in {late.submitted_at} ({late.source}); due {late.due}{extended}: "
            f"{how}. Late policy: {late.rule}."
        )
    for a in ex.adjustments:
        what = f"check '{a.check}'" if a.check else "exercise"
        why = (
            f"late penalty: {a.reason}"
            if a.kind == "late"
            else (f"override of the {what} ({a.asked}) by {a.by}: {a.reason}")
        )
        clamped = f" ({a.clamped})" if a.clamped else ""
        lines.append(f"{indent}Adjustment {a.points:+g} points, {why}{clamped}")
    if ex.raw_score is not None:
        lines.append(
            f"{indent}Automatic grading gave {format_points(ex.raw_score)}; "
            f"after adjustments {format_points(ex.score)}"
        )
    return lines


def _days(n: int) -> str:
    return f"{n} day" + ("" if n == 1 else "s")
