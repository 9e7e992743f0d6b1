"""A notebook's failed cells, root failures first.

When a cell raises, the names it would have defined after the failing line stay
undefined, and later cells that use them fail with ``NameError``. Those are follow-on
errors: a student fixes them by fixing the first cell, so they are folded into its
note ("3 later cells failed because of this") instead of a bullet each. The names a
cell binds are read from its source (``submissions.definitions``), never from the
sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.results import frame_cell
from grader.submissions.definitions import Binding, cell_bindings
from grader.submissions.notebooks import Cell, Notebook

SHOWN = 10  # root failures listed one by one; the rest are counted
NAME_ERROR = re.compile(r"name '([^']+)' is not defined")

CELL_HINTS = {  # what a student at the deadline needs to hear about a cell's error
    "StdinNotImplementedError": (
        " (nothing can be typed in while grading: put the value in the code)"
    ),
    "ModuleNotFoundError": (
        " (grading offers torch, numpy, matplotlib and Python's standard library; "
        "Colab's google.colab exists only on Colab)"
    ),
}


@dataclass
class Failure:
    """One cell that raised (``error`` is the cleaned record: type, message, frames)."""

    cell: Cell | None
    error: dict
    line: int | None  # the innermost line of the cell in its traceback (what notes show)
    stopped: int | None  # the cell's own line its run stopped at (what ran before it)
    root: Failure | None = None  # the failure this one follows from, when it is a follow-on
    follow_ons: list[Failure] = field(default_factory=list)
    missing: str = ""  # a follow-on's undefined name

    def describe(self) -> str:
        where = self.cell.label() if self.cell else "a cell"
        at = f" at line {self.line}" if self.line else ""
        return f"{where} raised {self.error['type']}{at}: {self.error['message'][:300]}"


class CellFailures:
    """The failed cells of one notebook run, each traced to its root failure."""

    def __init__(self, notebook: Notebook | None, errors: list[tuple[object, dict]]) -> None:
        """``errors``: (the cell number the sandbox gave, the cleaned error) in run order."""
        self.failures: list[Failure] = []
        # Names left undefined by a failed cell: name -> (the cell meant to define it,
        # the root failure that kept it from doing so).
        self.undefined: dict[str, tuple[Failure, Failure]] = {}
        failed: dict[int, Failure] = {}
        self._failed = failed
        for number, err in errors:
            cell = notebook.cell(number) if notebook else None
            lines = _lines_in(cell, err)
            shown = lines[-1] if lines else None
            stopped = None if err["type"] in ("SyntaxError", "IndentationError") else shown
            failure = Failure(cell, err, shown, lines[0] if lines and stopped else None)
            self.failures.append(failure)
            if cell is not None:
                failed.setdefault(cell.number, failure)
        for cell in notebook.cells if notebook and errors else []:
            failure = failed.get(cell.number)
            if failure is not None:
                self._trace(failure)
            for binding in cell_bindings(cell):
                if self.ran(cell, binding):
                    self.undefined.pop(binding.name, None)
                else:
                    self.undefined[binding.name] = (failure, failure.root or failure)
        for failure in self.failures:
            if failure.cell is None:
                self._trace(failure)

    def ran(self, cell: Cell, binding: Binding) -> bool:
        """Whether ``binding`` of ``cell`` ran: its cell did not fail, or failed after it."""
        failure = self._failed.get(cell.number)
        return failure is None or bool(failure.stopped and binding.end_line < failure.stopped)

    def _trace(self, failure: Failure) -> None:
        found = NAME_ERROR.match(failure.error["message"])
        if failure.error["type"] == "NameError" and found and found[1] in self.undefined:
            root = self.undefined[found[1]][1]
            failure.root, failure.missing = root, found[1]
            root.follow_ons.append(failure)

    @property
    def roots(self) -> list[Failure]:
        return [f for f in self.failures if f.root is None]

    def notes(self) -> list[str]:
        """A note per root failure (its follow-ons counted in it), up to SHOWN of them."""
        roots = self.roots
        notes = []
        for failure in roots[:SHOWN]:
            hint = CELL_HINTS.get(failure.error["type"], "")
            note = f"{failure.describe()}{hint}; the following cells still ran"
            if failure.follow_ons:
                names = sorted({f.missing for f in failure.follow_ons})
                listed = _joined([f"'{n}'" for n in names[:5]], "or") + (
                    ", ..." if len(names) > 5 else ""
                )
                numbers = [str(f.cell.number) for f in failure.follow_ons if f.cell]
                more = ", ..." if len(numbers) > 8 else ""
                cells = (
                    ""
                    if not numbers
                    else f"cell {numbers[0]}: "
                    if len(numbers) == 1
                    else f"cells {_joined(numbers[:8], 'and')}{more}: "
                )
                count = len(failure.follow_ons)
                note += (
                    f", and {count} later {'cell' if count == 1 else 'cells'} failed because of "
                    f"this ({cells}NameError, {listed} not defined)"
                )
            notes.append(note)
        if len(roots) > SHOWN:
            notes.append(f"{len(roots) - SHOWN} more cells raised errors")
        return notes

    def cause(self, name: str) -> tuple[Failure, Failure] | None:
        """(the failed cell meant to define ``name``, the root failure behind it), when a
        failed cell kept the notebook from defining ``name``."""
        return self.undefined.get(name)

    def why_missing(self, name: str, count: int = 1) -> str:
        """Why the notebook defines no ``name`` (and ``count - 1`` other names with the
        same cause): "because cell 1 (...), where it is defined, raised ..."; else ""."""
        found = self.undefined.get(name)
        if found is None:
            return ""
        meant, root = found
        where = meant.cell.label() if meant.cell else "a cell"
        where += ", where they are defined," if count > 1 else ", where it is defined,"
        if meant is root:
            at = f" at line {root.line}" if root.line else ""
            detail = f": {root.error['message'][:300]}" if root.error["message"] else ""
            return f"because {where} raised {root.error['type']}{at}{detail}"
        return (
            f"because {where} raised NameError (name '{meant.missing}' is not defined) after "
            f"{root.describe()}"
        )


def _lines_in(cell: Cell | None, err: dict) -> list[int]:
    """The lines of ``cell`` in the error's traceback, outermost first: the first is
    where the cell's own run stopped (a syntax error stops it before any line ran)."""
    if cell is None:
        return []
    return [f["line"] for f in err["frames"] if frame_cell(f["file"]) == cell.number and f["line"]]


def _joined(items: list[str], word: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"
