"""Where a submission defines a name (grader/submissions/definitions.py) and the note that
says which of several definitions was graded (grader/grading/redefinitions.py): hand-made
notebooks through the real reader, the bundled course's entry points. No sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT

from grader.course.loading import load_course
from grader.grading.cells import CellFailures
from grader.grading.redefinitions import redefinition_notes
from grader.submissions.definitions import bindings, cell_bindings, parameter_names, parse
from grader.submissions.folders import SubmittedFile
from grader.submissions.notebooks import Notebook, read_notebook

COURSE = load_course(ROOT, resolve_helpers=False)
TRAINING = next(ex for ex in COURSE.exercises if ex.id == "training-loop")
SOLUTION = (ROOT / "solutions" / "training_loop.py").read_text()
OWN = "import torch\n\n\ndef train(rnn, n_steps, print_every):\n    return []\n"


def notebook(*sources: str) -> Notebook:
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
        for s in sources
    ]
    return read_notebook(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": cells}).encode())


def submitted(nb: Notebook) -> SubmittedFile:
    return SubmittedFile(TRAINING, Path("training_loop.ipynb"), "ipynb", notebook=nb)


def test_top_level_bindings_with_their_lines_and_parameters() -> None:
    source = (
        "import torch.nn as nn, math\n"
        "class Model(nn.Module):\n"
        "    def __init__(self, in_features=87):\n"
        "        self.x = 1\n"
        "    def forward(self, x):\n"
        "        y = x\n"
        "        return y\n"
        "if True:\n"
        "    a, (b, *c) = 1, (2, 3)\n"
        "for i in range(2):\n"
        "    pass\n"
        "def train(model, X, *, lr=0.1, **kw):\n"
        "    inner = 1\n"
        'if __name__ == "__main__":\n'
        "    main = 1\n"
    )
    found = [(b.name, b.line, b.kind, b.params) for b in bindings(parse(source, False), False)]
    assert found == [
        ("nn", 1, "import", None),
        ("math", 1, "import", None),
        ("Model", 2, "class", "(in_features=87)"),
        ("a", 9, "assignment", None),
        ("b", 9, "assignment", None),
        ("c", 9, "assignment", None),
        ("i", 10, "assignment", None),
        ("train", 12, "def", "(model, X, *, lr=0.1, **kw)"),
    ]  # not `main`: a .py file's __main__ block does not run when the grader imports it
    in_notebook = [b.name for b in bindings(parse(source, True), True)]
    assert in_notebook[-1] == "main"  # a notebook runs as __main__


def test_a_cell_with_magics_is_read_after_turning_them_into_calls() -> None:
    [cell] = notebook("%matplotlib inline\n!ls\ndef relu(x):\n    return x\n").cells
    assert [(b.name, b.line) for b in cell_bindings(cell)] == [("relu", 3)]
    # A cell that is not Python: what it was meant to define, from its left margin.
    [broken] = notebook("x = (\ndef relu(x:\n    pass\nclass Model:\n").cells
    assert [(b.name, b.line, b.kind) for b in cell_bindings(broken)] == [
        ("relu", 2, "def"),
        ("Model", 4, "class"),
    ]


def test_parameter_names() -> None:
    assert parameter_names("(model, X, y, epochs=200, lr=0.01)") == [
        "model",
        "X",
        "y",
        "epochs",
        "lr",
    ]
    assert parameter_names("(a, /, b, *args, c, **kw)") == ["a", "b", "*args", "c", "**kw"]
    assert parameter_names("(a, *, b)") == ["a", "*", "b"]
    assert parameter_names("(not python") is None


def test_the_solution_pasted_first_and_the_students_own_train_later() -> None:
    nb = notebook(SOLUTION, "x = 1", "print(x)", OWN)
    [note] = redefinition_notes(submitted(nb), CellFailures(nb, []))
    assert note == (
        "train is defined 2 times: at line 7 of cell 1 (In [1], starting "
        '`"""Reference solution: training-loop."""`) and at line 4 of cell 4 (In [4], starting '
        "`import torch`); the checks used the last one that ran, in cell 4, which takes "
        "(rnn, n_steps, print_every); the exercise calls train(model, X, y, epochs=200, lr=0.01)"
    )


def test_the_last_definition_that_ran_is_the_graded_one() -> None:
    nb = notebook(OWN, SOLUTION + "\n1 / 0\n")  # fails after its def: the def ran
    [note] = redefinition_notes(submitted(nb), CellFailures(nb, [(2, zero_division(2, 19))]))
    assert note.endswith("the checks used the last one that ran, in cell 2")  # same signature
    nb = notebook(SOLUTION, "1 / 0\n" + OWN)  # fails before its def: the first one is graded
    [note] = redefinition_notes(submitted(nb), CellFailures(nb, [(2, zero_division(2, 1))]))
    assert "the checks used the last one that ran, in cell 1" in note
    assert note.endswith("in cell 1")


def test_one_definition_or_a_py_file() -> None:
    nb = notebook(SOLUTION, "print(1)")
    assert redefinition_notes(submitted(nb), CellFailures(nb, [])) == []
    py = SubmittedFile(TRAINING, Path("training_loop.py"), "py", source=SOLUTION + "\n" + OWN)
    assert redefinition_notes(py, None) == [
        "train is defined 2 times: in training_loop.py, at lines 7 and 23; the checks used the "
        "last one that ran, at line 23, which takes (rnn, n_steps, print_every); the exercise "
        "calls train(model, X, y, epochs=200, lr=0.01)"
    ]


def zero_division(cell: int, line: int) -> dict:
    frames = [{"file": f"cell {cell}", "line": line, "function": "<module>", "code": "1 / 0"}]
    return {"type": "ZeroDivisionError", "message": "division by zero", "frames": frames}
