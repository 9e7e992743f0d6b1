"""Messages a student understands, end to end (the real CLI and sandbox): a notebook that
defines `train` twice, uses CUDA, `!nvidia-smi` and the internet; one whose `Model` cell
failed, with follow-on errors; `grader check` and `grader grade` saying one fact in one
wording; a class folder holding only a link."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, run_grader

SOLUTION = (ROOT / "solutions" / "training_loop.py").read_text()
ACTIVATIONS = (ROOT / "solutions" / "activations.py").read_text()


def write_notebook(path: Path, *sources: str) -> None:
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
        for s in sources
    ]
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    )


def test_notebook_messages_through_the_cli(tmp_path: Path):
    eve = tmp_path / "class" / "eve"
    eve.mkdir(parents=True)
    write_notebook(
        eve / "training_loop.ipynb",
        SOLUTION,
        "import torch\nx = torch.zeros(3).cuda()",
        "!nvidia-smi",
        "import urllib.request\nurllib.request.urlopen('http://example.com/data.csv')",
        "def train(rnn, n_steps, print_every):\n    return []",
    )
    write_notebook(
        eve / "regression_model.ipynb",
        "import torch\nfrom torch import nn\nimport tochvision\n\n"
        "class Model(nn.Module):\n"
        "    def __init__(self, in_features=87):\n"
        "        super().__init__()",
        "model = Model()",
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)",
        "print(model)",
    )
    (eve / "activations.py").write_text(ACTIVATIONS.split("\ndef tanh")[0])
    out = tmp_path / "out"
    proc = run_grader("grade", str(tmp_path / "class"), "--out", str(out), "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    exercises = {e["id"]: e for e in results["students"][0]["exercises"]}

    training = exercises["training-loop"]
    redefined, cuda_cell, url_cell, nvidia, gpu, network = training["notes"]
    assert redefined.startswith("train is defined 2 times: at line 7 of cell 1 (In [1], ")
    assert redefined.endswith(
        "; the checks used the last one that ran, in cell 5, which takes (rnn, n_steps, "
        "print_every); the exercise calls train(model, X, y, epochs=200, lr=0.01)"
    )
    assert cuda_cell.startswith("cell 2 (In [2], starting `import torch`) raised AssertionError")
    assert url_cell.startswith("cell 4 (In [4], starting `import urllib.request`) raised URLError")
    assert "`nvidia-smi` is not there" in nvidia
    assert "device = 'cuda' if torch.cuda.is_available() else 'cpu'" in gpu
    assert "load data from the files given" in network
    assert all(
        line.startswith("grading runs on a CPU without a network")
        for line in (nvidia, gpu, network)
    )

    model = exercises["regression-model"]
    why = (
        "regression_model.ipynb defines no 'Model' because cell 1 (In [1], starting `import "
        "torch`), where it is defined, raised ModuleNotFoundError at line 3: No module named "
        "'tochvision'"
    )
    assert model["message"] == why
    assert {c["message"] for c in model["checks"]} == {why}
    [note] = model["notes"]
    assert note.endswith(
        "the following cells still ran, and 3 later cells failed because of this (cells 2, 3 "
        "and 4: NameError, 'Model' or 'model' not defined)"
    )
    page = next(p for p in out.glob("*.html") if p.name != "index.html").read_text()
    verdict = page.index("defines no &#39;Model&#39; because cell 1")  # the reason first
    assert verdict < page.index("3 later cells failed because of this")

    # grader check and grader grade: one wording for one fact.
    graded = {c["message"] for c in exercises["activations"]["checks"] if c["entry"] == "tanh"}
    assert "activations.py defines no 'tanh': check the spelling of the name" in graded
    checked = run_grader("check", str(eve / "activations.py"))
    assert "tanh at 0 and far from 0: activations.py defines no 'tanh': check the spelling" in (
        checked.stdout
    ), checked.stdout
    assert "NameError" not in checked.stdout

    # A class folder that holds only a link says what was skipped.
    links = tmp_path / "links"
    links.mkdir()
    (links / "zed").symlink_to(eve)
    proc = run_grader("grade", str(links), "--out", str(tmp_path / "out2"), "--jobs", "1")
    assert proc.returncode == 2
    assert "holds no student folders; skipped zed: it is a link to a folder" in proc.stderr
