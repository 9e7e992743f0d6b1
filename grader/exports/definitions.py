"""Where a submitted file defines a function or class: the line of its ``def``, for an
annotation about a wrong value (no traceback to point with) to sit on the student's code.

Found with ``ast`` in the grader's process; the student's code never runs here. The
source is hostile: whatever it holds (no definition, a syntax error, null bytes, deep
nesting, a notebook that is not JSON), the answer is a line or None, never an exception.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

MAX_SOURCE_BYTES = 2 * 2**20  # as submissions/folders.py takes a .py file
MAX_NOTEBOOK_BYTES = 100 * 2**20
_MAGIC = re.compile(r"^\s*[%!]")  # IPython magics and shell lines: not Python


def definition_line(source: str, name: str) -> int | None:
    """The line of the module-level ``def name`` (or ``class name``) that counts: the last
    one, as the last definition is what Python keeps. Definitions under module-level
    ``if``, ``try`` or ``with`` count too; those inside functions or classes do not."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found = None
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                # A decorated function's lineno is its `def` line, below the decorators.
                found = max(found or 0, node.lineno)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for part in ("body", "orelse", "finalbody"):
                pending += getattr(node, part, [])
            for handler in getattr(node, "handlers", []):
                pending += handler.body
    return found


def notebook_definition(text: str, name: str) -> tuple[int, int] | None:
    """(cell number, line in that cell) of the last code cell defining ``name``, cells
    numbered as Jupyter lists them (markdown included, from 1), as tracebacks name them."""
    try:
        cells = json.loads(text).get("cells")
    except (ValueError, AttributeError, RecursionError):
        return None
    if not isinstance(cells, list):
        return None
    found = None
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            continue
        # Magics become blank lines: the cell's other lines keep their numbers.
        python = "\n".join("" if _MAGIC.match(line) else line for line in source.split("\n"))
        line = definition_line(python, name)
        if line is not None:
            found = (number, line)
    return found


def read_submitted(path: Path) -> str | None:
    """The text of a submitted file, or None: not a regular file (a link could point
    anywhere), too large, or unreadable."""
    limit = MAX_NOTEBOOK_BYTES if path.suffix == ".ipynb" else MAX_SOURCE_BYTES
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_bytes()[:limit].decode("utf-8-sig", "replace")
    except OSError:
        return None
