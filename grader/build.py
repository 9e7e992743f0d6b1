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
import textwrap
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader.course import Course, EntryPoint, Example, Exercise, display_path
from grader.reports.atomic import write_text_atomic
from grader.schema import ExerciseError

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

# Compares an example's result with its expected value. Runs in the student's process:
# under ``if __name__ == "__main__":`` in FILE.py, in a helper cell of FILE.ipynb.
MISMATCH_HELPER = '''\
def _mismatch(got, expected):
    """Why got is not expected ("" when it is): tensors by torch.allclose, the rest by ==."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a tensor, got {type(got).__name__}: {got!r}"
        if got.shape != expected.shape:
            return f"got shape {tuple(got.shape)}, expected shape {tuple(expected.shape)}"
        if got.dtype != expected.dtype:
            return f"got dtype {got.dtype}, expected dtype {expected.dtype}"
        got, expected = got.detach().cpu(), expected.detach().cpu()
        if expected.is_floating_point() or expected.is_complex():
            same = torch.allclose(got, expected)
        else:
            same = torch.equal(got, expected)
        return "" if same else f"got {got}, expected {expected}"
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {len(expected)} items, got {got!r}"
        for index, (got_item, expected_item) in enumerate(zip(got, expected)):
            problem = _mismatch(got_item, expected_item)
            if problem:
                return f"item {index}: {problem}"
        return ""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"got {got!r}, expected {expected!r}"
        for key in expected:
            problem = _mismatch(got[key], expected[key])
            if problem:
                return f"key {key!r}: {problem}"
        return ""
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if isinstance(got, torch.Tensor):
            return f"expected a Python number, got a tensor: {got} (use .item())"
        if isinstance(expected, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
            same = math.isclose(got, expected, rel_tol=1e-5, abs_tol=1e-8)
            return "" if same else f"got {got!r}, expected {expected!r}"
    try:
        same = bool(got == expected)
    except Exception:
        same = False
    return "" if same else f"got {got!r}, expected {expected!r}"
'''  # noqa: E501 (this text is copied as is into the starter files students get)

HELPER_IMPORTS = "import math\n\nimport torch\n"


# ---------------------------------------------------------------------------- text


def _lines(text: str) -> list[str]:
    """Lines split on newlines only (not on the exotic separators str.splitlines knows)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _literal_body(body: str) -> tuple[str, str]:
    """(prefix, body) for a triple-quoted literal that reads back as ``body``."""
    controls = any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in body)
    needs_escape = '"""' in body or body.endswith('"') or controls
    if not needs_escape:
        if "\\" not in body:
            return "", body
        if not body.endswith("\\"):
            return "r", body  # backslashes (LaTeX, regexes) stay readable
    out = body.replace("\\", "\\\\").replace('"', '\\"')
    out = "".join(
        f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" and c not in "\n\t" else c
        for c in out
    )
    return "", out


def docstring(text: str, indent: str = "", width: int = 88) -> str:
    """``text`` as a docstring at ``indent``: one line when it fits on one, else PEP 257 style.

    A long single line is wrapped at ``width``; text with line breaks keeps them.
    """
    text = text.strip()
    if "\n" not in text and len(indent) + len(text) + 6 > width:
        text = textwrap.fill(
            text,
            width=max(width - len(indent) - 3, 40),
            break_long_words=False,
            break_on_hyphens=False,
        )
    lines = [line.rstrip() for line in _lines(text)]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return ""
    if len(lines) == 1:
        prefix, body = _literal_body(lines[0])
        return f'{indent}{prefix}"""{body}"""\n'
    prefix, body = _literal_body("\n".join(lines))
    shown = [(indent + line) if line else "" for line in _lines(body)]
    shown[0] = shown[0][len(indent) :]
    return f'{indent}{prefix}"""' + "\n".join(shown) + f'\n{indent}"""\n'


def _code(text: str) -> str:
    """Code with exactly one trailing newline ("" for no code)."""
    text = text.rstrip()
    return text + "\n" if text.strip() else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------- stubs


def _binds_torch(setup: str) -> bool:
    try:
        tree = ast.parse(setup)
    except SyntaxError:
        return "import torch" in setup
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == "torch":
                    return True
    return False


def setup_source(exercise: Exercise) -> str:
    """The exercise's setup code, plus ``import torch`` when a class stub needs it."""
    setup = _code(exercise.setup)
    needs_torch = any(e.kind == "class" and e.starter is None for e in exercise.entry_points)
    if needs_torch and not _binds_torch(setup):
        setup = setup + ("\n" if setup else "") + "import torch\n"
    return setup


def _init_signature(signature: str) -> str:
    """``(in_features=87)`` -> ``(self, in_features=87)``; kept when it already has self."""
    try:
        fn = ast.parse(f"def _f{signature}: pass").body[0]
        assert isinstance(fn, ast.FunctionDef)
        positional = fn.args.posonlyargs + fn.args.args
        if positional and positional[0].arg == "self":
            return signature
    except SyntaxError:
        pass
    inner = signature[1:-1].strip()
    return f"(self, {inner})" if inner else "(self)"


def entry_source(exercise: Exercise, entry: EntryPoint) -> str:
    """The code a student starts from for one entry point: its ``starter`` verbatim, or
    a stub raising NotImplementedError."""
    if entry.starter is not None:
        return _code(entry.starter)
    if entry.kind == "class":
        doc = docstring(entry.doc, "    ")
        return (
            f"class {entry.name}(torch.nn.Module):\n"
            + (doc + "\n" if doc else "")
            + f"    def __init__{_init_signature(entry.signature)}:\n"
            "        super().__init__()\n"
            f'        raise NotImplementedError("write {entry.name}.__init__")\n'
            "\n"
            "    def forward(self, x):\n"
            f'        raise NotImplementedError("write {entry.name}.forward")\n'
        )
    return (
        f"def {entry.name}{entry.signature}:\n"
        + docstring(entry.doc, "    ")
        + f'    raise NotImplementedError("write {entry.name}")\n'
    )


def examples_block(exercise: Exercise) -> str:
    """The ``if __name__ == "__main__":`` block of FILE.py: runs the visible examples and
    prints a PASS or FAIL line for each (one failure does not stop the others)."""
    head = (
        f"# Try the examples: python {exercise.file}.py\n"
        "# (The grader imports this file; it never runs the code below.)\n"
        'if __name__ == "__main__":\n'
    )
    if not exercise.examples:
        return head + '    print("This exercise has no visible examples.")\n'
    helper = "".join(
        ("    " + line) if line.strip() else line
        for line in (HELPER_IMPORTS + "\n" + MISMATCH_HELPER).splitlines(keepends=True)
    )
    table = "".join(
        f"        (\n            {_one_line(ex.name)!r},\n            {ex.code.strip()!r},\n"
        f"            {ex.expect.strip()!r},\n        ),\n"
        for ex in exercise.examples
    )
    return (
        head
        + helper
        + (
            "\n"
            "    _examples = [\n"
            f"{table}"
            "    ]\n"
            "    _passed = 0\n"
            "    for _name, _code, _expect in _examples:\n"
            "        try:\n"
            "            _got = eval(_code)\n"
            "            _problem = _mismatch(_got, eval(_expect))\n"
            "        except Exception as _exc:\n"
            '            _problem = f"{type(_exc).__name__}: {_exc}"\n'
            "        if _problem:\n"
            '            print(f"FAIL {_name}\\n     {_code}\\n     {_problem}")\n'
            "        else:\n"
            "            _passed += 1\n"
            '            print(f"PASS {_name}")\n'
            '    print(f"{_passed} of {len(_examples)} examples passed")\n'
        )
    )


def stub_source(exercise: Exercise, fill: Mapping[str, str] | None = None) -> str:
    """The text of ``FILE.py``: docstring (title and prompt), setup, one stub (or starter)
    per entry point, then the examples block.

    ``fill`` maps entry point names to code that replaces that entry point's stub, so
    other code (tests, course validation) can build a file with solutions filled in.
    """
    fill = fill or {}
    unknown = sorted(set(fill) - set(exercise.entry_names()))
    if unknown:
        raise KeyError(f"{exercise.id} has no entry point(s) {', '.join(unknown)}")
    parts = [docstring(f"{exercise.title}\n\n{exercise.prompt}")]
    setup = setup_source(exercise)
    if setup:
        parts.append(setup)
    for entry in exercise.entry_points:
        code = _code(fill[entry.name]) if entry.name in fill else entry_source(exercise, entry)
        if code:
            parts.append(code)
    parts.append(examples_block(exercise))
    head, *rest = (part.rstrip("\n") + "\n" for part in parts)
    return head + "\n" + "\n\n".join(rest)


# ---------------------------------------------------------------------------- notebook


def _example_cell_source(example: Example) -> str:
    code, expect = example.code.strip(), example.expect.strip()
    got = f"got = {code}"
    if not _same_expression(code, got):
        got = f"got = eval({code!r})"
    expected = f"expected = {expect}"
    if not _same_expression(expect, expected):
        expected = f"expected = eval({expect!r})"
    return (
        f"# Example: {_one_line(example.name)}\n"
        f"{got}\n"
        f"{expected}\n"
        "problem = _mismatch(got, expected)\n"
        "assert not problem, problem\n"
        'print("PASS")'
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
            "Run these cells after writing your code. Each one checks one example: it raises an "
            "error (NotImplementedError while a stub is unfinished, AssertionError for a wrong "
            "answer) until your code gives the expected value, then prints PASS. The first cell "
            "defines the comparison (tensors are compared with `torch.allclose`).",
            id="examples",
        )
    )
    if exercise.examples:
        cells.append(
            v4.new_code_cell(
                (HELPER_IMPORTS + "\n\n" + MISMATCH_HELPER).rstrip("\n"),
                id="examples-helper",
                metadata=meta("helper"),
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
    return _one_line(text).replace("|", "\\|")


def readme_text(course: Course) -> str:
    rows = "".join(
        f"| {_cell(ex.title)} | `{ex.file}.py` or `{ex.file}.ipynb` | "
        f"{', '.join(f'`{name}`' for name in ex.entry_names())} |\n"
        for ex in course.exercises
    )
    one = f"grader check {course.exercises[0].file if course.exercises else 'FILE'}.py"
    every = "grader check ."
    width = max(len(one), len(every))
    return f"""# {_one_line(course.title)}

Your starting point for the exercises of this course. Each exercise comes twice, as a
Python file (`FILE.py`) and as a Jupyter notebook (`FILE.ipynb`), with the same task:
pick the one you like and work in it.

| Exercise | Files | What to write |
|---|---|---|
{rows}
## How to work

- **Python file**: read the task at the top of `FILE.py`, then replace each
  `raise NotImplementedError(...)` with your code. Run `python FILE.py` to try the
  visible examples: it prints a PASS or FAIL line for each.
- **Notebook**: open `FILE.ipynb` in Jupyter, write your code in the cells holding the
  stubs, then run the cells under "Try the examples": each raises an error until your
  code gives the expected value, then prints PASS.

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

It prints PASS or FAIL per example and how many passed.

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
