"""``grader new EXERCISE_ID``: a starting exercise that validates as it is.

Three files: ``exercises/<file>.yaml`` (one entry point, a visible example, a check
against the reference solution and one on hidden data), ``solutions/<file>.py`` and
``exercises/hidden/<file>.py`` (the data helper). Nothing is overwritten: a file that
exists already stops the command before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.course.schema import EXERCISE_ID, IDENTIFIER
from grader.errors import GraderError

EXERCISE = """\
# Written by `grader new {id}`; it validates as it is (`grader validate`). Make it
# yours: the prompt, the entry point, the examples, the checks. The reference solution
# is solutions/{file}.py, the hidden data exercises/hidden/{file}.py.
id: {id}
title: {title}
file: {file}  # students hand in {file}.py or {file}.ipynb
prompt: |                         # Markdown, shown at the top of the stubs
  Write `column_sums(x)`: given a 2-D tensor `x` (rows of measurements), return the
  sum of each column, a 1-D tensor with one value per column.
entry_points:
  - name: column_sums
    signature: (x)
    doc: Return the sum of each column of the 2-D tensor x.
examples:                         # visible: in the stubs and in `grader check`
  - name: a 2 x 2 matrix
    code: "column_sums(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))"
    expect: "torch.tensor([4.0, 6.0])"
checks:                           # hidden: students see their results only
  - name: column_sums of a random 5 x 3 matrix
    entry: column_sums
    points: 2
    call: [{{randn: [5, 3]}}]       # the check's inputs, drawn from its own seed
    judge: match                  # compared with the reference solution's result
    hint: Sum over the rows, dim=0, which leaves one value per column.
  - name: column_sums of the hidden table
    entry: column_sums
    points: 1
    data: hidden/{file}.py:table  # a function of the seed giving named values
    call: [{{data: table}}]
    judge: match
    with: {{atol: 1.0e-4}}          # large values: a looser absolute tolerance
"""

SOLUTION = '''\
"""The reference solution of {id}: `grader validate` checks that it scores full
marks, and `match` checks compare students' results with its own."""

import torch


def column_sums(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=0)
'''

HELPER = '''\
"""Hidden helpers of {id}: the grader imports them in its own process; they never
reach the student bundle or the sandbox.

A data helper takes the check's seed (an int) and returns a dict of named values,
which the check's steps use as inputs with `{{data: name}}`. Draw from a generator
seeded with it, so that the same seed always gives the same data.
"""

from __future__ import annotations

import torch


def table(seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {{"table": torch.randn(8, 4, generator=gen) * 10}}
'''


def exercise_files(exercise_id: str) -> dict[str, str]:
    """The three files of a new exercise, by their path in the course folder."""
    if not EXERCISE_ID.match(exercise_id):
        raise GraderError(
            f"'{exercise_id}' is not an exercise id: use lower-case letters, digits and dashes"
        )
    file = exercise_id.replace("-", "_")
    if not IDENTIFIER.match(file):
        raise GraderError(f"'{exercise_id}' must start with a letter (its file is {file}.py)")
    words = dict(id=exercise_id, file=file, title=exercise_id.replace("-", " ").capitalize())
    return {
        f"exercises/{file}.yaml": EXERCISE.format(**words),
        f"solutions/{file}.py": SOLUTION.format(**words),
        f"exercises/hidden/{file}.py": HELPER.format(**words),
    }


def new_exercise(root: Path, exercise_id: str) -> list[Path]:
    """Write the new exercise's files into the course folder ``root``; return them."""
    files = {root / rel: text for rel, text in exercise_files(exercise_id).items()}
    taken = [str(path) for path in files if path.exists() or path.is_symlink()]
    if taken:
        verb = "exists" if len(taken) == 1 else "exist"
        raise GraderError(f"{', '.join(taken)} {verb} already; grader new overwrites nothing")
    _refuse_a_used_id(root, exercise_id)
    written = []
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        # "x": a file made meanwhile by someone else is not overwritten either.
        with open(path, "x", encoding="utf-8") as out:
            out.write(text)
        written.append(path)
    return written


def _refuse_a_used_id(root: Path, exercise_id: str) -> None:
    """An exercise of the course with this id already (under another file name)."""
    folder = root / "exercises"
    if not folder.is_dir():
        return
    from grader.course.schema import ExerciseError, load_yaml

    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        try:
            doc = load_yaml(path, os.path.relpath(path, root))
        except (ExerciseError, OSError):
            continue  # a broken file is `grader validate`'s to report
        if isinstance(doc, dict) and doc.get("id") == exercise_id:
            raise GraderError(f"{os.path.relpath(path, root)} has the id '{exercise_id}' already")
