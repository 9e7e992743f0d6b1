"""The student bundle: what a student starts from, and nothing a student must not see.

``build_bundle`` writes, for every exercise, ``FILE.py`` and ``FILE.ipynb`` (the prompt,
the setup code and a stub per entry point, plus the visible examples to try), then
``examples.json`` (the visible examples, read by ``grader check`` inside a bundle) and a
``README.md``.

Only the visible fields of an exercise are read: id, title, file, prompt, setup, entry
points and examples. Hidden checks, their data files and the reference solutions never
reach the bundle. The output is deterministic: the same course gives byte-identical files.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from grader.course.model import Course, Example, Exercise, display_path
from grader.course.schema import ExerciseError
from grader.course.stubs import (
    comment_text,
    entry_source,
    one_line,
    setup_source,
    stub_source,
)
from grader.reports.atomic import write_text_atomic

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

# ---------------------------------------------------------------------------- notebook


def _example_cell_source(example: Example) -> str:
    """One example as a cell Jupyter shows the result of, with the expected value above."""
    code = example.code.strip()
    if not _same_expression(code, f"_ = {code}"):
        code = f"eval({code!r})"
    return (
        f"# Example: {comment_text(example.name)}\n"
        f"# expected: {comment_text(example.expect)}\n"
        f"{code}"
    )


def _same_expression(expression: str, assignment: str) -> bool:
    """Whether ``name = <expression>`` written out as text assigns exactly that expression."""
    try:
        want = ast.parse(expression, mode="eval").body
        tree = ast.parse(assignment + "\n")
    except SyntaxError:
        return False
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return False
    return ast.dump(tree.body[0].value) == ast.dump(want)


def _cell_id(*parts: object) -> str:
    """A deterministic cell id (nbformat: 1-64 of letters, digits, - and _)."""
    raw = "-".join(str(p) for p in parts)
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in raw)[:64]


def notebook(exercise: Exercise) -> Any:
    """``FILE.ipynb`` as an nbformat v4 notebook."""
    import nbformat

    v4 = nbformat.v4

    def meta(role: str, **extra: str) -> dict[str, Any]:
        return {"grader": {"exercise": exercise.id, **extra, "role": role}}

    cells = [
        v4.new_markdown_cell(f"# {exercise.title}\n\n{exercise.prompt.strip()}", id="prompt"),
        v4.new_code_cell(setup_source(exercise).rstrip("\n"), id="setup", metadata=meta("setup")),
    ]
    for index, entry in enumerate(exercise.entry_points):
        cells.append(
            v4.new_code_cell(
                entry_source(exercise, entry).rstrip("\n"),
                id=_cell_id("solution", index, entry.name),
                metadata=meta("solution", entry=entry.name),
            )
        )
    cells.append(
        v4.new_markdown_cell(
            "## Try the examples\n\n"
            "Each cell below runs one example on your code and shows what it gives; the "
            "value it should give is in its second line (NotImplementedError means a stub "
            f"is unfinished). `grader check {exercise.file}.ipynb` runs them all and compares "
            "exactly.",
            id="examples",
        )
    )
    for index, example in enumerate(exercise.examples):
        cells.append(
            v4.new_code_cell(
                _example_cell_source(example),
                id=_cell_id("example", index, example.name),
                metadata=meta("example", example=example.name),
            )
        )
    nb = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": "python"},
            "grader": {"exercise": exercise.id, "file": f"{exercise.file}.ipynb"},
        },
    )
    nbformat.validate(nb)
    return nb


def notebook_text(exercise: Exercise) -> str:
    import nbformat

    text = nbformat.writes(notebook(exercise))
    return text if text.endswith("\n") else text + "\n"


# ---------------------------------------------------------------------------- bundle


def examples_data(course: Course) -> dict[str, Any]:
    """The contents of ``examples.json``: the visible examples only."""
    return {
        "course": course.title,
        "exercises": [
            {
                "id": ex.id,
                "title": ex.title,
                "file": ex.file,
                "entry_points": ex.entry_names(),
                "examples": [
                    {"name": e.name, "code": e.code, "expect": e.expect} for e in ex.examples
                ],
            }
            for ex in course.exercises
        ],
    }


def _cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return one_line(text).replace("|", "\\|")


def readme_text(course: Course) -> str:
    rows = "".join(
        f"| {_cell(ex.title)} | `{ex.file}.py` or `{ex.file}.ipynb` | "
        f"{', '.join(f'`{name}`' for name in ex.entry_names())} |\n"
        for ex in course.exercises
    )
    one = f"grader check {course.exercises[0].file if course.exercises else 'FILE'}.py"
    every = "grader check ."
    width = max(len(one), len(every))
    return f"""# {one_line(course.title)}

Your starting point for the exercises of this course. Each exercise comes twice, as a
Python file (`FILE.py`) and as a Jupyter notebook (`FILE.ipynb`), with the same task:
pick the one you like and work in it.

| Exercise | Files | What to write |
|---|---|---|
{rows}
## How to work

- **Python file**: read the task at the top of `FILE.py`, then replace each
  `raise NotImplementedError(...)` with your code. The visible examples are listed at
  its end; `grader check FILE.py` runs them (see *Checking your work*).
- **Notebook**: open `FILE.ipynb` in Jupyter, write your code in the cells holding the
  stubs, then run the cells under "Try the examples": each shows what your code gives
  for one example, with the value it should give written above it.

Keep the names and parameters of the functions and classes as they are: the grader
calls them by name. Add imports and helper functions as you need. The grader imports a
`.py` file as a module, so code under `if __name__ == "__main__":` does not run when
graded; in a notebook every code cell runs, in order. Keep slow experiments out of
what runs when graded.

The examples are only a first test: your work is graded with more, hidden checks
(other inputs, shapes and edge cases), so make your code correct in general, not just
for the examples.

## Checking your work

With the `grader` command installed, run the visible examples through the grader
itself, from this folder (it holds `examples.json`, which `grader check` reads):

    {one.ljust(width)}  # one exercise (a .py or an .ipynb file)
    {every.ljust(width)}  # every exercise in this folder

It prints PASS or FAIL per example (with the example's code and what went wrong) and
how many passed.

## Submitting

Hand in one folder holding, for each exercise, **either** `FILE.py` **or**
`FILE.ipynb`, named exactly as here. Delete (or leave out) the file you did not use:
when both are present, the `.py` file is the one graded, even if your work is in the
notebook. A missing file scores 0 for that exercise; the others are still graded.
"""


def build_bundle(course: Course, out: Path) -> list[Path]:
    """Write the student bundle into ``out``; return the files written, in order."""
    out = Path(out)
    contents: list[tuple[str, str]] = []
    for ex in course.exercises:
        source = stub_source(ex)
        try:
            compile(source, f"{ex.file}.py", "exec")
        except SyntaxError as exc:
            raise ExerciseError(
                display_path(ex.path, course.root),
                0,
                f"the student file {ex.file}.py would not compile (line {exc.lineno}: "
                f"{exc.msg}); check setup, signatures and starters",
            ) from None
        contents.append((f"{ex.file}.py", source))
        contents.append((f"{ex.file}.ipynb", notebook_text(ex)))
    contents.append(
        ("examples.json", json.dumps(examples_data(course), indent=2, ensure_ascii=False) + "\n")
    )
    contents.append(("README.md", readme_text(course)))
    return [write_text_atomic(out / name, text) for name, text in contents]
