"""Which definition was graded, when a submission defines an entry point more than once.

A notebook that pastes the course's solution in its first cell and keeps its own
``def train(rnn, n_steps, print_every)`` further down is graded on the last definition
that ran, as Python leaves it; without a word, the student sees a TypeError about
arguments they never wrote. Read from the submitted source (``ast``), in the grader.
"""

from __future__ import annotations

from grader.grading.cells import CellFailures
from grader.submissions.definitions import Binding, bindings, parameter_names, parse
from grader.submissions.folders import SubmittedFile
from grader.submissions.notebooks import Cell


def redefinition_notes(sub: SubmittedFile, failures: CellFailures | None) -> list[str]:
    """A note per entry point defined more than once: where, which one the checks used,
    and the signature the exercise expects when that one's parameters differ."""
    notes = []
    for entry in sub.exercise.entry_points:
        found = _definitions(sub, entry.name)
        if len(found) < 2:
            continue
        ran = [
            (cell, b)
            for cell, b in found
            if cell is None or failures is None or failures.ran(cell, b)
        ]
        note = f"{entry.name} is defined {len(found)} times: {_places(sub, found)}; "
        if not ran:
            notes.append(note + "none of them ran without an error, so the checks found none")
            continue
        cell, graded = ran[-1]
        where = f"in cell {cell.number}" if cell else f"at line {graded.line}"
        note += f"the checks used the last one that ran, {where}"
        expected = parameter_names(entry.signature)
        if graded.params is not None and parameter_names(graded.params) != expected:
            note += (
                f", which takes {graded.params}; the exercise calls {entry.name}{entry.signature}"
            )
        notes.append(note)
    return notes


def _definitions(sub: SubmittedFile, name: str) -> list[tuple[Cell | None, Binding]]:
    """Each top-level binding of ``name``, in the order it runs: (its cell, the binding)."""
    if sub.notebook is not None:
        from grader.submissions.definitions import cell_bindings

        return [
            (cell, b) for cell in sub.notebook.cells for b in cell_bindings(cell) if b.name == name
        ]
    if sub.source is None:
        return []
    tree = parse(sub.source, notebook=False)
    return [(None, b) for b in bindings(tree, notebook=False) if b.name == name]


def _places(sub: SubmittedFile, found: list[tuple[Cell | None, Binding]]) -> str:
    if sub.notebook is None:
        lines = [str(b.line) for _, b in found]
        shown = sub.path.name if sub.path else "the file"
        return f"in {shown}, at lines {', '.join(lines[:-1])} and {lines[-1]}"
    places = [f"at line {b.line} of {cell.label()}" for cell, b in found if cell is not None]
    return f"{', '.join(places[:-1])} and {places[-1]}"
