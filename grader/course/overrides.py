"""``overrides.yaml`` beside course.yaml: an instructor's changes to automatic scores.

::

    - student: ada
      exercise: tensor-ops
      check: broadcasting      # optional: without it, the whole exercise
      points: 2                # the new points; or delta: -1
      comment: regraded by hand, the shapes were right
      by: Prof. Lee

Only the file's shape is checked here (mistakes at ``file:line``); whether an entry
still matches a student, exercise and check is decided when it is applied
(grading/adjustments.py), where one that matches nothing is reported, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.course.schema import ExerciseError, Mapping, load_yaml

FILENAME = "overrides.yaml"
KEYS = {"student", "exercise", "check", "points", "delta", "comment", "by"}


@dataclass(frozen=True)
class Override:
    student: str
    exercise: str
    check: str | None
    points: float | None  # the new score of what it names
    delta: float | None  # or the change to it
    comment: str
    by: str
    source: str  # "overrides.yaml:12"

    def asked(self) -> str:
        if self.points is not None:
            return f"points {self.points:g}"
        return f"delta {self.delta:+g}"

    def target(self) -> str:
        where = f"{self.student}, {self.exercise}"
        return f"{where}, check '{self.check}'" if self.check else where


def load_overrides(root: Path) -> list[Override]:
    """The overrides of the course at ``root`` (none without the file)."""
    path = root / FILENAME
    if not path.exists():
        return []
    shown = FILENAME
    data = load_yaml(path, shown)
    if data is None:
        return []
    if not isinstance(data, list):
        raise ExerciseError(
            shown, getattr(data, "line", 1), "expected a list of overrides (each '- student: ...')"
        )
    found: list[Override] = []
    seen: dict[tuple[str, str, str | None], int] = {}
    for item in data:
        m = Mapping(item, shown, "an override", getattr(data, "line", 1))
        m.only(KEYS)
        if m.has("points") == m.has("delta"):
            raise ExerciseError(
                shown, m.line, "an override gives either 'points' (the new score) or 'delta'"
            )
        delta = None
        if m.has("delta"):
            delta = m.number("delta", minimum=-float("inf"))
        override = Override(
            student=_name(m, "student"),
            exercise=_name(m, "exercise"),
            check=_name(m, "check") if m.has("check") else None,
            points=m.number("points") if m.has("points") else None,
            delta=delta,
            comment=m.text("comment"),
            by=m.text("by"),
            source=f"{shown}:{m.line}",
        )
        key = (override.student, override.exercise, override.check)
        if key in seen:
            raise ExerciseError(
                shown, m.line, f"{override.target()}: already overridden at line {seen[key]}"
            )
        seen[key] = m.line
        found.append(override)
    return found


def _name(m: Mapping, key: str) -> str:
    value = m.raw(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a student number written bare
    if not isinstance(value, str) or not value.strip():
        raise m.error(key, "expected text")
    return value.strip()
