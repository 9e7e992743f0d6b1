"""A class made to measure `grader similarity`: who copied whom is known by construction.

For each exercise in ``INDEPENDENT`` the class holds

- ``orig``: the course's reference solution, as the student's ``FILE.py``;
- ``renamed``: the same code with every local name, parameter and attribute renamed and
  the comments gone (``ast.unparse`` also changes its spacing);
- ``reordered``: the same code with its functions in reverse order and a comment added;
- ``notebook``: the renamed and reordered code as a notebook, a function per cell, with
  saved outputs (the outputs say nothing of the code);
- ``independent``: a correct solution written separately, in another style;
- ``stub_py``, ``stub_nb``: the untouched stubs of the bundle (``grader build``).

The copies (the first four) must rank above every pair with ``independent``, and the
stubs must not be similar to anything. ``hostile_class`` makes a class whose shared code,
folder names and notebook cells are HTML, terminal escapes and lone surrogates.
"""

from __future__ import annotations

import ast
import builtins
import json
from pathlib import Path

from grader.course.build import notebook_text
from grader.course.model import Course
from grader.course.stubs import stub_source

ROOT = Path(__file__).resolve().parents[1]

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert('copied')</script>"

COPIES = ("orig", "renamed", "reordered", "notebook")
STUBS = ("stub_py", "stub_nb")

INDEPENDENT = {
    "activations": '''\
import torch


def sigmoid(values):
    """Logistic function, stable on both sides."""
    out = torch.empty_like(values)
    pos = values >= 0
    out[pos] = 1 / (1 + torch.exp(-values[pos]))
    e = torch.exp(values[~pos])
    out[~pos] = e / (e + 1)
    return out


def relu(values):
    return values * (values > 0)


def tanh(values):
    s = sigmoid(2 * values)
    return 2 * s - 1
''',
    "text_to_ids": """\
import torch


def build_vocab(sentences):
    words = []
    for line in sentences:
        words.extend(line.lower().split())
    table = {}
    next_id = 1
    for w in words:
        if w in table:
            continue
        table[w] = next_id
        next_id += 1
    return table


def encode(sentence, vocab):
    tokens = sentence.lower().split()
    result = torch.zeros(len(tokens), dtype=torch.long)
    for i, tok in enumerate(tokens):
        if tok in vocab:
            result[i] = vocab[tok]
    return result
""",
    "prepare_data": """\
import torch


def standardize(X_train, X_val):
    mu = X_train.mean(0, keepdim=False)
    sigma = X_train.std(0)
    sigma[sigma == 0] = 1.0
    scale = lambda t: (t - mu) / sigma
    return scale(X_train), scale(X_val), mu, sigma


def split_features_target(table, target_col):
    n_cols = table.shape[1]
    mask = torch.ones(n_cols, dtype=torch.bool)
    mask[target_col] = False
    return table[:, mask], table[:, target_col:target_col + 1]


def train_val_split(X, y, val_fraction, seed):
    g = torch.Generator()
    g.manual_seed(seed)
    perm = torch.randperm(len(X), generator=g)
    cut = int(len(X) * val_fraction)
    val, train = perm[:cut], perm[cut:]
    return (X.index_select(0, train), X.index_select(0, val),
            y.index_select(0, train), y.index_select(0, val))
""",
    "training_loop": """\
import torch


def train(model, X, y, epochs=200, lr=0.01):
    opt = torch.optim.Adam(params=model.parameters(), lr=lr)
    history = list()
    epoch = 0
    while epoch < epochs:
        opt.zero_grad()
        err = ((model(X) - y) ** 2).mean()
        err.backward()
        opt.step()
        history += [float(err)]
        epoch += 1
    return history
""",
    "derivative": """\
import torch


def gradient(f, point):
    p = point.clone().detach()
    p.requires_grad = True
    f(p).backward()
    return p.grad


def derivative_of_square(x):
    v = torch.tensor(float(x), requires_grad=True)
    (v * v).backward()
    return float(v.grad)
""",
}


# ----------------------------------------------------------------------- transformations


class _Renamer(ast.NodeTransformer):
    """Renames what a student may rename without the grader noticing: local names,
    parameters and ``self.`` attributes; keeps the entry points, imports and builtins."""

    def __init__(self, keep: set[str]) -> None:
        self.keep = keep | set(dir(builtins)) | {"self"}
        self.names: dict[str, str] = {}

    def _new(self, name: str) -> str:
        if name in self.keep or name.startswith("__"):
            return name
        return self.names.setdefault(name, f"q{len(self.names)}_{name[::-1].strip('_')}z")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self._new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._new(node.arg)
        self.generic_visit(node)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.Attribute:
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == "self":
            node.attr = self._new(node.attr)
        return node


def _kept_names(tree: ast.Module) -> set[str]:
    """Top-level definitions (the entry points) and imported names."""
    kept = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            kept.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            kept.update((a.asname or a.name).split(".")[0] for a in node.names)
    return kept


def renamed(source: str) -> str:
    tree = ast.parse(source)
    tree = _Renamer(_kept_names(tree)).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _blocks(source: str) -> tuple[list[str], list[str]]:
    """(the module's leading statements, its top-level definitions), as source text."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    head, defs = [], []
    for node in tree.body:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        text = "".join(lines[start - 1 : node.end_lineno])
        (defs if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else head).append(text)
    return head, defs


def reordered(source: str) -> str:
    """The definitions in reverse order, a comment in front of each."""
    head, defs = _blocks(source)
    body = "\n\n".join(f"# my part {i}\n{text}" for i, text in enumerate(reversed(defs)))
    return "".join(head) + "\n\n" + body


def notebook(source: str) -> str:
    """``source`` as notebook JSON: the imports in a cell, then a definition per cell,
    each with a saved output that every copy would share."""
    head, defs = _blocks(source)
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# My work\n"},
        *(
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": i,
                "source": text,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "x" * 200 + "\n"}],
            }
            for i, text in enumerate(["".join(head), *defs], start=1)
        ),
    ]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})


# --------------------------------------------------------------------------- the class


def build(root: Path, course: Course) -> dict[str, list[str]]:
    """Write the class under ``root``; return each exercise file's students' kinds."""
    by_file = {ex.file: ex for ex in course.exercises}
    files: dict[str, dict[str, str]] = {k: {} for k in (*COPIES, "independent", *STUBS)}
    for name, independent in INDEPENDENT.items():
        solution = (ROOT / "solutions" / f"{name}.py").read_text(encoding="utf-8")
        files["orig"][f"{name}.py"] = solution
        files["renamed"][f"{name}.py"] = renamed(solution)
        files["reordered"][f"{name}.py"] = reordered(solution)
        files["notebook"][f"{name}.ipynb"] = notebook(reordered(renamed(solution)))
        files["independent"][f"{name}.py"] = independent
        files["stub_py"][f"{name}.py"] = stub_source(by_file[name])
        files["stub_nb"][f"{name}.ipynb"] = notebook_text(by_file[name])
    for student, texts in files.items():
        folder = root / student
        folder.mkdir(parents=True)
        for filename, text in texts.items():
            (folder / filename).write_text(text, encoding="utf-8")
    return {name: list(files) for name in INDEPENDENT}


def hostile_class(root: Path) -> Path:
    """Two students who share a training loop that carries a script in a string and in a
    comment, one of them under a folder name that is HTML, one in a notebook whose cell
    holds a terminal escape and a lone surrogate."""
    source = (ROOT / "solutions" / "training_loop.py").read_text()
    source += f'\n\nBANNER = "{SCRIPT}"  # {SCRIPT}\n'
    (root / HOSTILE_NAME).mkdir(parents=True)
    (root / HOSTILE_NAME / "training_loop.py").write_text(source)
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1}
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {**cell, "source": source},
            {**cell, "source": 'print("\x1b[31mred\x1b[0m", "\\ud800")\n# \ud800 alone\n'},
        ],
    }
    (root / "bob").mkdir()
    # json.dumps escapes the lone surrogate as \ud800, which json.loads gives back.
    (root / "bob" / "training_loop.ipynb").write_text(json.dumps(notebook))
    return root
