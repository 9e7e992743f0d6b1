"""Data for the class overview (index.html): the score distribution and the medians.

Pure functions of a ``GradingRun``, like every report; ``html_report.render_index`` passes
their results to the template.
"""

from __future__ import annotations

import math
import statistics

from grader.reports.csv_report import exercise_ids
from grader.reports.figures import Figure, render
from grader.results import GradingRun

BINS = 10  # the distribution's bins: 0-10 %, 10-20 %, ..., 90-100 %


def class_max_score(run: GradingRun) -> float:
    """The maximum total: the same for every student (an exercise without a result keeps
    its points), else the largest."""
    return max((s.max_score for s in run.students), default=0.0)


def score_percentages(run: GradingRun) -> list[float]:
    """Each student's total as a percentage of the class's maximum (one denominator, as in
    the figure, so figure and table agree); none when that maximum is 0."""
    top = class_max_score(run)
    return [100.0 * s.score / top for s in run.students] if top > 0 else []


def score_bins(run: GradingRun) -> list[tuple[str, int]]:
    """How many students' totals fall in each tenth of the maximum, as (label, count).

    A bin holds its lower bound (exactly 10 % is in 10-20 %); 100 % goes in the last bin,
    as do bonus points above it. Empty for an empty class or a maximum of 0.
    """
    percentages = score_percentages(run)
    if not percentages:
        return []
    counts = [0] * BINS
    for percent in percentages:
        # Rounded first so that float noise (0.3 of 3 is 9.999...%) cannot drop a bin.
        index = math.floor(round(percent * BINS / 100, 9))
        counts[min(max(index, 0), BINS - 1)] += 1
    step = 100 // BINS
    return [(f"{i * step}\u2013{(i + 1) * step} %", n) for i, n in enumerate(counts)]


def exercise_medians(run: GradingRun) -> list[float | None]:
    """Per exercise (course order), the median score of the students who have a result."""
    medians: list[float | None] = []
    for ex_id in exercise_ids(run):
        scores = [e.score for s in run.students for e in s.exercises if e.id == ex_id]
        medians.append(statistics.median(scores) if scores else None)
    return medians


def total_median(run: GradingRun) -> float | None:
    return statistics.median(s.score for s in run.students) if run.students else None


def distribution_figure(run: GradingRun) -> Figure | None:
    """The histogram of total scores as a ``Figure`` (SVG markup, caption, description),
    or None for an empty class."""
    if not run.students:
        return None
    return render(
        {
            "kind": "scores",
            "title": "Score distribution",
            "scores": [s.score for s in run.students],
            "max_score": class_max_score(run),
        },
        uid="distribution",
    )
