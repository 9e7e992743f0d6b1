"""Excerpts of a student's own code for reports: the lines around a failing line, cut
in the grader's process from the file the grader read (never from the sandbox)."""

from __future__ import annotations

from typing import Any

from grader.submissions.folders import SubmittedFile

CONTEXT = 3  # lines shown before and after the line in question
LINE_LIMIT = 200  # characters of one line: a minified line must not fill the page


def excerpt(text: str, line: int, label: str) -> dict[str, Any] | None:
    """``{"file", "line", "first", "lines"}``: ``line`` of ``text`` with CONTEXT lines
    around it; None when the line is not in the text."""
    lines = text.splitlines()
    if not isinstance(line, int) or not 1 <= line <= len(lines):
        return None
    first, last = max(1, line - CONTEXT), min(len(lines), line + CONTEXT)
    while first < line and not lines[first - 1].strip():
        first += 1  # blank lines around the excerpt say nothing
    while last > line and not lines[last - 1].strip():
        last -= 1
    shown = [
        t if len(t) <= LINE_LIMIT else t[: LINE_LIMIT - 1] + "\u2026"
        for t in lines[first - 1 : last]
    ]
    return {"file": label, "line": line, "first": first, "lines": shown}


def failing_line(sub: SubmittedFile, frames: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The excerpt around the innermost traceback frame in this exercise's own file (or
    notebook cell): where the student should look first."""
    if sub.path is None:
        return None
    for frame in reversed(frames):
        if sub.notebook is not None:
            cell = sub.notebook.cell_in_frame(str(frame.get("file")))
            if cell is not None:
                return excerpt(cell.source, frame.get("line", 0), cell.label())
        elif frame.get("file") == sub.path.name and sub.source is not None:
            return excerpt(sub.source, frame.get("line", 0), sub.path.name)
    return None


def code_lines(sub: SubmittedFile, lines: list[int]) -> list[dict[str, Any]]:
    """Excerpts around lines of ``sub.code()`` a judge pointed at (say, a forbidden call)."""
    found = []
    for line in lines[:3]:
        placed = sub.place(line)
        if placed is not None:
            label, text, at = placed
            cut = excerpt(text, at, label)
            if cut is not None:
                found.append(cut)
    return found
