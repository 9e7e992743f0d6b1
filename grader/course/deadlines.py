"""Deadlines and the late policy: ``due:`` and ``late:`` in course.yaml (and in an
exercise, to override), and per-student extensions from a CSV.

A deadline is an instant: ``due`` must name its time zone (``+01:00``, ``Z``), or the
same file would mean different deadlines on machines in different zones.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from grader.course.schema import ExerciseError, Mapping, type_name

# The keys a course.yaml or an exercise file may give for its deadline.
KEYS = ("due", "late")
LATE_KEYS = ("per_day", "cap", "grace_days")  # in course.yaml
EXERCISE_LATE_KEYS = ("per_day", "cap")
DAY = 86400.0

_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|points?)?\s*$")


@dataclass(frozen=True)
class Amount:
    """Points, or a percentage of the exercise's points."""

    value: float
    percent: bool

    def points(self, max_score: float) -> float:
        return max_score * self.value / 100 if self.percent else self.value

    def words(self) -> str:
        if self.percent:
            return f"{self.value:g}%"
        return f"{self.value:g} point" + ("" if self.value == 1 else "s")


@dataclass(frozen=True)
class LatePolicy:
    per_day: Amount | None = None  # taken off per day or part of a day late
    cap: Amount | None = None  # the most the penalty takes off
    grace_days: int = 0  # per student, for the whole course (course.yaml only)

    def words(self) -> str:
        if self.per_day is None:
            return "no late penalty"
        text = (
            f"{self.per_day.words()} of the exercise's points"
            if self.per_day.percent
            else (self.per_day.words())
        )
        text += " off per day or part of a day late"
        if self.cap is not None:
            text += f", at most {self.cap.words()}"
        return text


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from YAML's timestamp or ISO 8601 text; None if it is not one
    or names no time zone."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, date) or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _time_problem(value: Any) -> str:
    if isinstance(value, datetime) or (isinstance(value, str) and _naive_iso(value)):
        return (
            f"{_shown(value)} names no time zone: add one, as in "
            "2026-03-01T23:59:00+01:00 or 2026-03-01T22:59:00Z"
        )
    if isinstance(value, date):
        return f"{_shown(value)} is a day without a time: write 2026-03-01T23:59:00+01:00"
    return f"expected a date and time with a time zone (ISO 8601), got {_shown(value)}"


def _naive_iso(text: str) -> bool:
    try:
        return datetime.fromisoformat(text.strip()).tzinfo is None
    except ValueError:
        return False


def _shown(value: Any) -> str:
    return repr(value.isoformat()) if isinstance(value, (date, datetime)) else type_name(value)


def read_due(m: Mapping) -> datetime | None:
    if not m.has("due"):
        return None
    value = m.raw("due")
    due = parse_time(value)
    if due is None:
        raise m.error("due", _time_problem(value))
    return due


def _amount(m: Mapping, key: str) -> Amount | None:
    if not m.has(key):
        return None
    value = m.raw(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return Amount(float(value), False)
    found = _AMOUNT.match(value) if isinstance(value, str) else None
    if found is None:
        raise m.error(
            key, f"expected points (2, '2 points') or a percentage ('10%'), got {type_name(value)}"
        )
    return Amount(float(found.group(1)), found.group(2) == "%")


def read_late(late: Mapping) -> LatePolicy:
    """A ``late:`` mapping whose keys the loader has checked (grace days only in
    course.yaml: they are the student's for the whole course)."""
    grace = late.number("grace_days", 0.0)
    if grace != int(grace):
        raise late.error("grace_days", f"expected a whole number of days, got {grace:g}")
    return LatePolicy(_amount(late, "per_day"), _amount(late, "cap"), int(grace))


# ------------------------------------------------------------------ extensions
@dataclass(frozen=True)
class Extension:
    student: str
    exercise: str | None  # None: every exercise
    due: datetime
    line: int


def read_extensions(path: Path) -> list[Extension]:
    """``student,exercise,due`` rows (a header row; exercise empty for all exercises);
    a mistake is an ExerciseError at its line."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExerciseError(shown, 1, f"cannot read the extensions file ({exc})") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if header[:1] != ["student"] or "due" not in header:
        raise ExerciseError(shown, 1, "expected a header row: student,exercise,due")
    where = {name: header.index(name) for name in ("student", "exercise", "due") if name in header}
    found: list[Extension] = []
    seen: dict[tuple[str, str | None], int] = {}
    for line, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        cells = {k: (row[i].strip() if i < len(row) else "") for k, i in where.items()}
        if not cells["student"]:
            raise ExerciseError(shown, line, "no student")
        due = parse_time(cells["due"])
        if due is None:
            raise ExerciseError(shown, line, f"due: {_time_problem(cells['due'])}")
        key = (cells["student"], cells.get("exercise") or None)
        if key in seen:
            raise ExerciseError(shown, line, f"the same extension as line {seen[key]}")
        seen[key] = line
        found.append(Extension(key[0], key[1], due, line))
    return found


def schedule_lines(lines: dict[str, int], total: int) -> set[int]:
    """The lines of an exercise file that hold its top-level ``due`` and ``late``:
    left out of its fingerprint, so moving a deadline grades nothing again."""
    starts = sorted(lines.values())
    found: set[int] = set()
    for key in KEYS:
        if key in lines:
            start = lines[key]
            after = [s for s in starts if s > start]
            found.update(range(start, (after[0] if after else total + 1)))
    return found
