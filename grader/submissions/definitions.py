"""Where a student's code defines a name: read from the submitted source with ``ast``,
in the grader's process (nothing runs). A notebook is read cell by cell, so a message can
say "defined in cells 1 and 8" and which of them ran last.

Only top-level bindings count (also those inside a top-level ``if``, ``for``, ``with`` or
``try``): what a function or class body binds is not the module's name.
"""

from __future__ import annotations

import ast
import copy
import functools
import re
from dataclasses import dataclass

from grader.submissions.notebooks import Cell, NotebookProblem, read_notebook

MEANT = re.compile(r"(?:(async\s+def|def)|class)\s+([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Binding:
    """One top-level statement that binds ``name``."""

    name: str
    line: int  # where the statement starts, in its file or cell
    end_line: int
    kind: str  # "def", "class", "assignment" or "import"
    params: str | None = None  # a def's (or a class's __init__'s) parameters, as written


def parse(source: str, notebook: bool) -> ast.Module | None:
    """The code's syntax tree; a notebook cell's magics are turned into calls first when
    the plain source does not parse (IPython only then: it is slow to import)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # hostile: deep nesting too
        if not notebook:
            return None
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    # A cell that is not Python even after the magics (or nested too deep): binds nothing.
    except (Exception, RecursionError):
        return None


def bindings(tree: ast.Module | None, notebook: bool) -> list[Binding]:
    """Every top-level binding of ``tree``, in order. In a .py file, code under
    ``if __name__ == "__main__":`` does not run when the grader imports it."""
    found: list[Binding] = []
    if tree is not None:
        _walk(tree.body, notebook, found)
    return found


def _walk(body: list[ast.stmt], notebook: bool, found: list[Binding]) -> None:
    for node in body:
        end = getattr(node, "end_lineno", None) or node.lineno
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(Binding(node.name, node.lineno, end, "def", _params(node.args, 0)))
        elif isinstance(node, ast.ClassDef):
            init = next(
                (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"),
                None,
            )
            params = _params(init.args, 1) if init is not None else None
            found.append(Binding(node.name, node.lineno, end, "class", params))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                if name != "*":
                    found.append(Binding(name, node.lineno, end, "import"))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node, ast.AnnAssign) and node.value is None:
                continue  # `x: int` binds nothing
            for target in targets:
                for name in _target_names(target):
                    found.append(Binding(name, node.lineno, end, "assignment"))
        elif isinstance(node, ast.If):
            if not notebook and _is_main_guard(node.test):
                _walk(node.orelse, notebook, found)
            else:
                _walk(node.body, notebook, found)
                _walk(node.orelse, notebook, found)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            if isinstance(node, (ast.For, ast.AsyncFor)):
                for name in _target_names(node.target):
                    found.append(Binding(name, node.lineno, end, "assignment"))
            _walk(node.body, notebook, found)
            _walk(node.orelse, notebook, found)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    for name in _target_names(item.optional_vars):
                        found.append(Binding(name, node.lineno, end, "assignment"))
            _walk(node.body, notebook, found)
        elif isinstance(node, ast.Try):
            for part in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                _walk(part, notebook, found)


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for element in target.elts for n in _target_names(element)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []  # x.a = ..., x[0] = ...: no new name


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _params(args: ast.arguments, skip: int) -> str:
    """The parameter list as written, without the first ``skip`` (a method's self)."""
    args = copy.deepcopy(args)
    positional = args.posonlyargs + args.args
    for _ in range(min(skip, len(positional))):
        if len(args.defaults) == len(args.posonlyargs) + len(args.args):
            args.defaults.pop(0)  # every positional had a default: the first one goes too
        if args.posonlyargs:
            args.posonlyargs.pop(0)
        else:
            args.args.pop(0)
    return f"({ast.unparse(args)})"


def parameter_names(params: str) -> list[str] | None:
    """The names in a parameter list such as ``(model, X, *, lr=0.1, **kw)``, in order."""
    try:
        tree = ast.parse(f"def _{params}:\n    pass\n")
    except SyntaxError:
        return None
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    args = function.args
    names = [a.arg for a in args.posonlyargs + args.args]
    names += [f"*{args.vararg.arg}"] if args.vararg else ["*"] if args.kwonlyargs else []
    names += [a.arg for a in args.kwonlyargs]
    names += [f"**{args.kwarg.arg}"] if args.kwarg else []
    return names


def cell_bindings(cell: Cell) -> list[Binding]:
    """The names a cell binds; for a cell that is not valid Python, the functions and
    classes it starts at its left margin (what it was meant to define)."""
    return list(_cell_bindings(cell.source))


@functools.lru_cache(maxsize=512)  # each message asks again about the same cells
def _cell_bindings(source: str) -> tuple[Binding, ...]:
    tree = parse(source, notebook=True)
    if tree is not None:
        return tuple(bindings(tree, notebook=True))
    return tuple(
        Binding(found[2], line, line, "def" if found[1] else "class")
        for line, text in enumerate(source.splitlines(), start=1)
        if (found := MEANT.match(text))
    )


def definition_line(source: str, name: str) -> int | None:
    """The line of the ``def`` (or ``class``) ``name`` in a .py file that Python keeps:
    the last top-level one. None when there is none or the file does not parse."""
    lines = [
        b.line
        for b in bindings(parse(source, notebook=False), notebook=False)
        if b.name == name and b.kind in ("def", "class")
    ]
    return lines[-1] if lines else None


def notebook_definition(raw: bytes | str, name: str) -> tuple[int, int] | None:
    """(cell number as Jupyter lists them, line in that cell) of the last code cell that
    defines ``name``, as tracebacks name cells; None when none does or it is no notebook."""
    try:
        cells = read_notebook(
            raw if isinstance(raw, bytes) else raw.encode("utf-8", "replace")
        ).cells
    except (NotebookProblem, RecursionError, MemoryError):
        return None
    found = None
    for cell in cells:
        for b in cell_bindings(cell):
            if b.name == name and b.kind in ("def", "class"):
                found = (cell.number, b.line)
    return found
