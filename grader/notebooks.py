"""Reading a student's notebook as data: its code cells, in order.

Saved outputs, execution counts and metadata are ignored and never trusted. Runs in
the grader, and only parses JSON: no notebook code runs here.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path


class NotebookProblem(Exception):
    """Why a notebook cannot be graded, in words for the student."""


def code_cells(path: Path) -> list[dict]:
    """[{"number": position among all cells (1-based), "source": text}] of code cells."""
    import nbformat

    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookProblem(f"the file is not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotebookProblem(f"the file is not a notebook: it is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookProblem("the file is JSON but not a Jupyter notebook (no cells)")
    try:
        with warnings.catch_warnings():  # e.g. missing cell ids: not the terminal's business
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises many kinds for malformed notebooks
        raise NotebookProblem(f"the notebook could not be read ({type(exc).__name__}: {exc})") from None
    cells = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookProblem(f"cell {number} has no readable source")
        cells.append({"number": number, "source": source})
    if not any(c["source"].strip() for c in cells):
        raise NotebookProblem("the notebook has no code")
    return cells


def cells_to_source(cells: list[dict]) -> str:
    """The notebook's code as one Python text (magics turned into calls), for judges
    that read code."""
    from IPython.core.inputtransformer2 import TransformerManager

    transformer = TransformerManager()
    parts = []
    for cell in cells:
        try:
            parts.append(transformer.transform_cell(cell["source"]))
        except Exception:
            parts.append(cell["source"])
    return "\n".join(parts)
