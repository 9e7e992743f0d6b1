"""Canvas: a gradebook CSV to import, matching students through the instructor's roster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.results import GradingRun


@dataclass
class CanvasExport:
    text: str  # the CSV, as Canvas imports it
    unmatched: list[str]  # graded submissions that match no roster entry


def export_canvas(run: GradingRun, roster: Path, assignment: str) -> CanvasExport:
    raise NotImplementedError
