"""A notebook's failed cells traced to their root (grader/grading/cells.py) and the
environment's errors said in plain words (grader/grading/environment.py): hand-made
notebooks through the real reader, errors as the sandbox records them. No sandbox."""

from __future__ import annotations

import json

from grader.grading.cells import CellFailures
from grader.grading.environment import GPU_LINE, NETWORK_LINE, error_line, output_lines
from grader.submissions.notebooks import Notebook, read_notebook

MODEL = (
    "import torch\nfrom torch import nn\nimport tochvision\n\nclass Model(nn.Module):\n    pass\n"
)


def notebook(*sources: str) -> Notebook:
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
        for s in sources
    ]
    return read_notebook(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": cells}).encode())


def error(kind: str, message: str, cell: int, line: int) -> dict:
    frames = [{"file": f"cell {cell}", "line": line, "function": "<module>", "code": ""}]
    return {"type": kind, "message": message, "frames": frames}


def undefined(name: str, cell: int) -> tuple[int, dict]:
    return cell, error("NameError", f"name '{name}' is not defined", cell, 1)


def test_follow_on_name_errors_are_folded_into_the_root_failure() -> None:
    nb = notebook(MODEL, "model = Model()", "opt = model.parameters()", "print(model)", "y = q")
    failures = CellFailures(
        nb,
        [
            (1, error("ModuleNotFoundError", "No module named 'tochvision'", 1, 3)),
            undefined("Model", 2),
            undefined("model", 3),  # cell 2 would have defined it: still cell 1's doing
            undefined("model", 4),
            undefined("q", 5),  # nobody meant to define q: a failure of its own
        ],
    )
    assert [f.cell.number for f in failures.roots if f.cell] == [1, 5]
    first, own = failures.notes()
    assert first == (
        "cell 1 (In [1], starting `import torch`) raised ModuleNotFoundError at line 3: No module "
        "named 'tochvision' (grading offers torch, numpy, matplotlib and Python's standard "
        "library; Colab's google.colab exists only on Colab); the following cells still ran, "
        "and 3 later cells failed because of this (cells 2, 3 and 4: NameError, 'Model' or "
        "'model' not defined)"
    )
    assert own == (
        "cell 5 (In [5], starting `y = q`) raised NameError at line 1: name 'q' is not defined; "
        "the following cells still ran"
    )
    assert failures.why_missing("Model") == (
        "because cell 1 (In [1], starting `import torch`), where it is defined, raised "
        "ModuleNotFoundError at line 3: No module named 'tochvision'"
    )
    assert failures.why_missing("model").startswith(
        "because cell 2 (In [2], starting `model = Model()`), where it is defined, raised "
        "NameError (name 'Model' is not defined) after cell 1 (In [1], starting `import torch`) "
        "raised ModuleNotFoundError at line 3"
    )
    assert failures.why_missing("torch") == ""  # defined before the failing line
    assert failures.why_missing("q") == ""


def test_a_later_cell_that_defines_the_name_ends_the_folding() -> None:
    nb = notebook("x = 1 / 0", "x = 2", "print(y)", "y = x")
    failures = CellFailures(
        nb,
        [
            (1, error("ZeroDivisionError", "division by zero", 1, 1)),
            undefined("y", 3),
        ],
    )
    assert len(failures.roots) == 2 and failures.why_missing("x") == ""


def test_a_syntax_error_leaves_every_name_of_its_cell_undefined() -> None:
    nb = notebook("def relu(x):\n    return x\ndef sigmoid(x:\n", "relu(1)")
    failures = CellFailures(
        nb, [(1, error("SyntaxError", "invalid syntax", 1, 3)), undefined("relu", 2)]
    )
    assert (
        len(failures.roots) == 1
        and "1 later cell failed because of this (cell 2" in (failures.notes()[0])
    )


def test_more_than_ten_root_failures_are_counted() -> None:
    nb = notebook(*[f"raise ValueError({i})" for i in range(13)])
    failures = CellFailures(nb, [(i + 1, error("ValueError", str(i), i + 1, 1)) for i in range(13)])
    notes = failures.notes()
    assert len(notes) == 11 and notes[-1] == "3 more cells raised errors"


def test_errors_of_the_environment_in_plain_words() -> None:
    assert error_line("AssertionError", "Torch not compiled with CUDA enabled") == GPU_LINE
    assert error_line("RuntimeError", "Found no NVIDIA driver on your system.") == GPU_LINE
    assert (
        error_line(
            "RuntimeError",
            "Attempting to deserialize object on a CUDA device but "
            "torch.cuda.is_available() is False. If you are running on a CPU-only machine...",
        )
        == GPU_LINE
    )
    assert "`device = 'cuda' if torch.cuda.is_available() else 'cpu'`" in GPU_LINE
    assert GPU_LINE.startswith("grading runs on a CPU without a network")
    for kind, message in [
        ("URLError", "<urlopen error [Errno -3] Temporary failure in name resolution>"),
        ("gaierror", "[Errno -3] Temporary failure in name resolution"),
        ("ConnectionError", "HTTPConnectionPool(host='x', port=80): Max retries exceeded"),
        ("OSError", "[Errno 101] Network is unreachable"),
    ]:
        assert error_line(kind, message) == NETWORK_LINE, kind
    assert "load data from the files given" in NETWORK_LINE
    assert error_line("FileNotFoundError", "[Errno 2] No such file or directory: 'nvidia-smi'")
    assert error_line("ValueError", "shapes do not match") is None
    assert error_line("FileNotFoundError", "No such file or directory: 'data.csv'") is None


def test_shell_commands_that_are_not_installed() -> None:
    printed = (
        "hello\n/usr/bin/sh: 1: nvidia-smi: not found\n"
        "/bin/bash: line 1: wget: command not found\nsh: 1: nvidia-smi: not found\n"
        "I said: nvidia-smi: not found in a sentence\n"
    )
    nvidia, wget = output_lines(printed)
    assert nvidia.startswith("grading runs on a CPU without a network, so `nvidia-smi`")
    assert "torch.cuda.is_available()" in nvidia
    assert "`wget`" in wget
    assert output_lines("all good\n") == []
