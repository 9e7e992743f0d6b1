"""JUnit XML: one test suite per student and exercise, one test case per check."""

from __future__ import annotations

from grader.results import GradingRun


def render_junit(run: GradingRun) -> str:
    raise NotImplementedError
