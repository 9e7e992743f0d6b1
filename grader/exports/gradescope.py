"""Gradescope: the autograder zip (``grader export gradescope``) and the
``results.json`` its ``run_autograder`` writes for one submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.results import GradingRun


def results_json(run: GradingRun) -> dict[str, Any]:
    """Gradescope's results.json for a run that graded one submission."""
    raise NotImplementedError


def build_autograder_zip(course_root: Path, out: Path) -> Path:
    """Write the autograder zip for the course at ``course_root``; returns its path."""
    raise NotImplementedError
