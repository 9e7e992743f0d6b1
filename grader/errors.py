"""Errors that stop a command (not a submission: a bad submission costs only itself)."""

from __future__ import annotations


class GraderError(Exception):
    """The grader itself cannot go on (a broken course, a failing reference solution)."""
