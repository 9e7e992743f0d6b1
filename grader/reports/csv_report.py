"""``grades.csv``: one row per student, one column per exercise, for spreadsheets/LMS.

The scores are the final ones; when adjustments (late penalties, overrides) apply to the
run, the automatic scores follow, in columns named "... (automatic)"."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from grader.reports.atomic import write_text_atomic
from grader.results import GradingRun, rounded

FILENAME = "grades.csv"

# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def format_points(points: float) -> str:
    """3.0 -> "3", 2.50 -> "2.5"; at most 4 decimals, never "-0"."""
    if not math.isfinite(points):
        return str(points)
    text = f"{rounded(points):.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def exercise_ids(run: GradingRun) -> list[str]:
    """Course order = the first student's list (every student has the same list)."""
    return [e.id for e in run.students[0].exercises] if run.students else []


def text_cell(text: str) -> str:
    # Undecodable file names arrive as lone surrogates; they cannot be written as UTF-8.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(run: GradingRun) -> str:
    ids = exercise_ids(run)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180 / Excel dialect
    raw = run.adjusted
    header = ["student", *(text_cell(i) for i in ids), "total"]
    if raw:
        header += [*(text_cell(f"{i} (automatic)") for i in ids), "total (automatic)"]
    writer.writerow(header)
    for student in run.students:
        by_id = {e.id: e for e in student.exercises}
        cells = [format_points(by_id[i].score) if i in by_id else "" for i in ids]
        row = [text_cell(student.id), *cells, format_points(student.score)]
        if raw:
            row += [format_points(by_id[i].automatic_score) if i in by_id else "" for i in ids]
            row.append(format_points(student.automatic_score))
        writer.writerow(row)
    return buf.getvalue()


def write_csv(run: GradingRun, out_dir: Path) -> Path:
    return write_text_atomic(Path(out_dir) / FILENAME, render_csv(run))
