"""GitHub Actions and GitHub Classroom: a job summary, error annotations on the
student's own lines, the student's output fenced off from workflow commands, and the
Classroom ``result`` output. Reference: docs/ci.md."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from grader.results import GradingRun


def report_to_github(run: GradingRun, folders: Mapping[str, Path], env: Mapping[str, str],
                     stdout: TextIO) -> None:
    """Everything ``grader grade --ci github`` adds to a run on GitHub Actions.

    ``folders``: each student's submission folder (annotations name files relative to
    ``GITHUB_WORKSPACE``); ``env``: the runner's environment (GITHUB_STEP_SUMMARY,
    GITHUB_OUTPUT, GITHUB_WORKSPACE); ``stdout``: the job log."""
    raise NotImplementedError


def workflow_text() -> str:
    """The workflow ``grader ci init`` writes to .github/workflows/autograde.yml."""
    raise NotImplementedError
