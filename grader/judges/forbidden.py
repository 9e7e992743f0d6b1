"""``forbidden-calls``: an entry point must not use certain library functions (say,
``torch.sigmoid`` in an exercise about writing sigmoid). Found by reading the code's
syntax tree, never by running it, whatever the spelling: ``torch.sigmoid``,
``F.sigmoid``, ``from torch import sigmoid as s``, ``x.sigmoid_()``, ``nn.Sigmoid()``,
``getattr(torch, "sigmoid")``, a module-level alias, or a helper function that uses it.
"""

from __future__ import annotations

import ast
import functools

from grader.course.schema import Mapping
from grader.judges.base import Judge, JudgeContext, Unjudgeable, Verdict, register

# What the judge reads at most. A course's file is a few thousand syntax elements; a
# file over these is made to stall the grader, and its check is an error instead.
MAX_SOURCE_CHARS = 1_000_000
MAX_NODES = 300_000
MAX_DEPTH = 200  # levels of syntax nesting; a course's file has a few dozen


class CodeTooLarge(Unjudgeable):
    """The code is beyond what this judge reads (its size, its syntax tree, its nesting)."""


TOO_DEEP = (
    "the code is nested too deeply for the grader to read it, so this check could not be judged"
)


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


class _Statement:
    """One module-level statement, read once: the names it binds, the names it refers
    to, and the forbidden names it uses directly (attributes, imported names, and
    strings passed on, as in getattr(torch, "relu"))."""

    def __init__(self, stmt: ast.stmt, forbidden: frozenset[str]) -> None:
        self.uses: list[tuple[str, int]] = []
        refers: dict[str, None] = {}
        stored: list[str] = []
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Name):
                refers[sub.id] = None
                if isinstance(sub.ctx, ast.Store):
                    stored.append(sub.id)
            elif isinstance(sub, ast.Attribute) and sub.attr in forbidden:
                self.uses.append((ast.unparse(sub), sub.lineno))
            elif isinstance(sub, ast.ImportFrom):
                for alias in sub.names:
                    if alias.name in forbidden:
                        self.uses.append((f"from {sub.module} import {alias.name}", sub.lineno))
            elif isinstance(sub, (ast.Call, ast.Subscript)):
                # A name given as text, e.g. getattr(torch, "relu") or F.__dict__["relu"];
                # only strings passed on count, so a docstring "relu" is not a use.
                texts = (
                    [*sub.args, *(k.value for k in sub.keywords)]
                    if isinstance(sub, ast.Call)
                    else [sub.slice]
                )
                for node in texts:
                    if (
                        isinstance(node, ast.Constant)
                        and isinstance(node.value, str)
                        and node.value.strip() in forbidden
                    ):
                        self.uses.append((repr(node.value), node.lineno))
        if isinstance(stmt, ast.Import):
            self.uses = []  # `import torch.nn.functional` uses nothing by itself
        self.refers = list(refers)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.binds = [stmt.name]
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.binds = [(a.asname or a.name).split(".")[0] for a in stmt.names]
        else:
            self.binds = stored


def _parsed(source: str) -> ast.Module:
    """The syntax tree, within the caps: a judge must not spend minutes on one file."""
    if len(source) > MAX_SOURCE_CHARS:
        raise CodeTooLarge(
            f"the code is {len(source):,} characters long, more than the {MAX_SOURCE_CHARS:,} "
            "the grader reads to look for library calls, so this check could not be judged"
        )
    try:
        tree = ast.parse(source)
    except (RecursionError, MemoryError):
        raise CodeTooLarge(TOO_DEEP) from None
    # One walk, without recursion, counting elements and nesting. The depth cap is fixed
    # here rather than left to Python's recursion limit (ast.unparse, quoting a use, is
    # recursive), so the same file gets the same verdict in every process.
    count, todo = 0, [(tree, 0)]
    while todo:
        node, depth = todo.pop()
        count += 1
        if count > MAX_NODES:
            raise CodeTooLarge(
                f"the code has more than {MAX_NODES:,} syntax elements, more than the grader "
                "reads to look for library calls, so this check could not be judged"
            )
        if depth > MAX_DEPTH:
            raise CodeTooLarge(TOO_DEEP)
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


def find_forbidden(
    source: str, functions: list[str], forbidden: set[str]
) -> dict[str, list[tuple[str, int]]]:
    """For each function in ``functions``: the forbidden uses it reaches, directly or
    through module-level names (helpers, aliases) it refers to. CodeTooLarge (and
    SyntaxError) when the code cannot be read."""
    found = _find_forbidden(source, tuple(functions), frozenset(forbidden))
    return {fn: list(uses) for fn, uses in found.items()}


@functools.lru_cache(maxsize=256)  # several checks of a file read the same source
def _find_forbidden(
    source: str, functions: tuple[str, ...], forbidden: frozenset[str]
) -> dict[str, tuple[tuple[str, int], ...]]:
    tree = _parsed(source)
    try:
        # Each statement is read once (reading it once per name it binds made
        # `a0, ..., a19999 = 0` take minutes). Code under `if __name__ == "__main__":`
        # is never run by the grader.
        statements = [_Statement(stmt, forbidden) for stmt in tree.body if not _is_main_guard(stmt)]
    except RecursionError:  # ast.unparse of a deeply nested expression
        raise CodeTooLarge(TOO_DEEP) from None
    binders: dict[str, list[_Statement]] = {}  # name -> the statements that bind it
    for stmt in statements:
        for name in stmt.binds:
            binders.setdefault(name, []).append(stmt)
    report = {}
    for fn in functions:
        names, read, todo, found = set(), set(), [fn], []
        while todo:
            name = todo.pop()
            if name in names:
                continue
            names.add(name)
            for stmt in binders.get(name, ()):
                if id(stmt) not in read:
                    read.add(id(stmt))
                    found += stmt.uses
                    todo += reversed(stmt.refers)
        report[fn] = tuple(sorted(dict.fromkeys(found), key=lambda u: u[1]))
    return report


@register
class ForbiddenCalls(Judge):
    name = "forbidden-calls"
    needs_run = False
    options = {"names": "list", "functions": "list", "instead": "text"}

    @classmethod
    def validate_options(cls, m: Mapping) -> None:
        super().validate_options(m)
        if not m.items("names"):
            raise m.error("names", "expected at least one forbidden name")

    def judge(self, ctx: JudgeContext) -> Verdict:
        if ctx.source is None:
            return Verdict(False, f"{ctx.entry}: the code could not be read")
        forbidden = {str(n) for n in ctx.opt("names")}
        functions = [str(f) for f in ctx.opt("functions", [ctx.entry])]
        try:
            report = find_forbidden(ctx.source, functions, forbidden)
        except SyntaxError as exc:
            return Verdict(
                False, f"{ctx.entry}: the code has a syntax error (line {exc.lineno}: {exc.msg})"
            )
        uses = [u for fn in functions for u in report.get(fn, [])]
        if uses:
            shown = ", ".join(f"{text} ({ctx.where(line)})" for text, line in uses[:3])
            instead = ctx.opt("instead", "elementary tensor operations")
            return Verdict(
                False,
                f"{ctx.entry} uses the library's own version: {shown}. This exercise asks "
                f"you to write it yourself with {instead}, so {ctx.entry} earns no points.",
                {"uses": [f"{ctx.where(line)}: {text}" for text, line in uses[:10]]},
                lines=[line for _, line in uses[:3]],
            )
        return Verdict(True, f"{ctx.entry} is written with elementary operations")
