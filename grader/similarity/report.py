"""The similarity report: one self-contained HTML page and the same facts as JSON.

Every student's text (folder names, code) reaches the page through Jinja2 expressions
with autoescaping on, under a policy that allows no script at all.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

import grader
from grader.reports.atomic import write_text_atomic
from grader.reports.html_report import TEMPLATES_DIR, printable
from grader.similarity.detect import NOISE, ExerciseSimilarity, Pair
from grader.similarity.texts import StudentCode

NOTICE = (
    "This is a signal for a person to read, never a score or a verdict. Code can be alike "
    "because an exercise is short and has one natural answer, because the course's hints "
    "spell it out, or because students worked together as allowed. Read both files before "
    "concluding anything, and ask the students."
)
CONTEXT = 3  # lines shown around a shared region; the rest of a file is folded
MAX_SHOWN_LINES = 400  # per file and pair: a padded file does not bloat the page
POLICY = "default-src 'none'; style-src 'unsafe-inline'"


@dataclass
class Similarity:
    """What `grader similarity` found, ready to write."""

    course: str
    submissions: str
    students: int
    exercises: list[tuple[str, ExerciseSimilarity]]  # (title, result), in course order
    skipped: list[str]
    top: int


class _Lines:
    """Where the lines (and a notebook's cells) of a text start, to place an offset."""

    def __init__(self, code: StudentCode) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", code.text)]
        self.cuts = [start for start, _ in code.cells]  # offsets where cells start
        self.cell_lines = [self.line(start) for start in self.cuts]
        self.names = [name for _, name in code.cells]

    def line(self, offset: int) -> int:
        """The 0-based index of the line holding ``offset``."""
        return bisect.bisect_right(self.starts, offset) - 1

    def cell(self, line: int) -> tuple[str, int]:
        """The cell line ``line`` is in ("" outside a notebook), and its first line."""
        at = bisect.bisect_right(self.cell_lines, line) - 1
        return (self.names[at], self.cell_lines[at]) if at >= 0 else ("", 0)

    def split(self, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """``spans`` cut where a cell starts."""
        pieces = []
        for start, end in spans:
            first, last = bisect.bisect_right(self.cuts, start), bisect.bisect_left(self.cuts, end)
            for cut in self.cuts[first:last]:
                pieces.append((start, cut))
                start = cut
            pieces.append((start, end))
        return pieces


def regions(code: StudentCode, spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Shared regions as 1-based line ranges; in a notebook, lines of the cell named
    (a region over several cells is one per cell)."""
    lines = _Lines(code)
    found = []
    for start, end in lines.split(spans):
        while end > start and code.text[end - 1].isspace():  # the blank line between cells
            end -= 1
        first, last = lines.line(start), lines.line(max(start, end - 1))
        cell, base = lines.cell(first)
        region: dict[str, Any] = {"first_line": first - base + 1, "last_line": last - base + 1}
        if cell:
            region["cell"] = cell
        found.append(region)
    return found


def as_data(result: Similarity) -> dict[str, Any]:
    def side(code: StudentCode, share: float, spans: list[tuple[int, int]]) -> dict[str, Any]:
        return {
            "student": code.student,
            "file": code.name,
            "share": round(share, 4),
            "regions": regions(code, spans),
        }

    def pair(p: Pair) -> dict[str, Any]:
        return {
            "similarity": round(p.similarity, 4),
            "a": side(p.a, p.share_a, p.spans_a),
            "b": side(p.b, p.share_b, p.spans_b),
        }

    return {
        "notice": NOTICE,
        "grader_version": grader.__version__,
        "course": result.course,
        "submissions": result.submissions,
        "students": result.students,
        "settings": {"shortest_match": NOISE, "pairs_kept_per_exercise": result.top},
        "skipped": result.skipped,
        "exercises": [
            {
                "id": ex.exercise,
                "title": title,
                "files": ex.files,
                "files_with_own_code": ex.own,
                "pairs_compared": ex.compared,
                "median_similarity": round(ex.median, 4),
                "pairs": [pair(p) for p in ex.pairs],
            }
            for title, ex in result.exercises
        ],
    }


# ------------------------------------------------------------------------------ the page


def rows(code: StudentCode, spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """The lines of ``code`` to show: each as its number and pieces of text (shared or
    not); the lines far from any shared region folded into one row saying how many."""
    where = _Lines(code)
    lines = code.text.split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # the text's last newline ends a line; it starts none
    shown: set[int] = set()
    for start, end in spans:
        first, last = where.line(start), where.line(max(start, end - 1))
        shown.update(range(max(0, first - CONTEXT), min(len(lines), last + CONTEXT + 1)))
    out: list[dict[str, Any]] = []
    folded, headed = 0, ""
    for n, line in enumerate(lines):
        if n not in shown or len(out) >= MAX_SHOWN_LINES:
            folded += 1
            continue
        if folded:
            out.append({"folded": folded})
            folded = 0
        cell, base = where.cell(n)  # a notebook's lines are numbered within their cell
        if cell and (cell != headed or n == base):
            out.append({"cell": cell})
            headed = cell
        out.append({"number": n - base + 1, "pieces": _pieces(line, where.starts[n], spans)})
    if folded:
        out.append({"folded": folded})
    return out


def _pieces(line: str, offset: int, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``line`` (starting at ``offset`` in its text) cut into (text, shared) pieces."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in spans:
        start, end = max(start - offset, at), min(end - offset, len(line))
        if end <= start:
            continue
        if start > at:
            pieces.append((line[at:start], False))
        pieces.append((line[start:end], True))
        at = end
    if at < len(line) or not pieces:
        pieces.append((line[at:], False))
    return pieces


def render_html(result: Similarity) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=printable,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["rows"] = rows
    env.filters["percent"] = lambda share: f"{100 * share:.0f}%"
    return env.get_template("similarity.html.j2").render(
        result=result, notice=NOTICE, csp=POLICY, noise=NOISE
    )


def write(result: Similarity, html_path: Path, json_path: Path) -> list[Path]:
    """Both files, each written whole or not at all."""
    text = json.dumps(as_data(result), indent=2) + "\n"
    return [write_text_atomic(html_path, render_html(result)), write_text_atomic(json_path, text)]
