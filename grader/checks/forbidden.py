"""``forbidden-calls``: an entry point must not use certain library functions (say,
``torch.sigmoid`` in an exercise about writing sigmoid). Found by reading the code's
syntax tree, never by running it, whatever the spelling: ``torch.sigmoid``,
``F.sigmoid``, ``from torch import sigmoid as s``, ``x.sigmoid_()``, ``nn.Sigmoid()``,
``getattr(torch, "sigmoid")``, a module-level alias, or a helper function that uses it.
"""

from __future__ import annotations

import ast
import functools

from grader.checks.base import Judge, JudgeContext, Verdict, register
from grader.schema import Mapping


def _names_used(node: ast.AST, forbidden: set[str]) -> list[tuple[str, int]]:
    """Forbidden names reached directly inside ``node``: attributes, imported names,
    and strings (as in getattr(torch, "relu"))."""
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr in forbidden:
            found.append((ast.unparse(sub), sub.lineno))
        elif isinstance(sub, ast.ImportFrom):
            for alias in sub.names:
                if alias.name in forbidden:
                    found.append((f"from {sub.module} import {alias.name}", sub.lineno))
        elif isinstance(sub, (ast.Call, ast.Subscript)):
            # A name given as text, e.g. getattr(torch, "relu") or F.__dict__["relu"];
            # only strings passed on count, so a docstring "relu" is not a use.
            texts = [*sub.args, *(k.value for k in sub.keywords)] if isinstance(sub, ast.Call) else [sub.slice]
            for node in texts:
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip() in forbidden:
                    found.append((repr(node.value), node.lineno))
    return found


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    names = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.append(sub.id)
    return names


def find_forbidden(source: str, functions: list[str], forbidden: set[str]) -> dict[str, list[tuple[str, int]]]:
    """For each function in ``functions``: the forbidden uses it reaches, directly or
    through module-level names (helpers, aliases) it refers to."""
    found = _find_forbidden(source, tuple(functions), frozenset(forbidden))
    return {fn: list(uses) for fn, uses in found.items()}


@functools.lru_cache(maxsize=256)  # several checks of a file read the same source
def _find_forbidden(source: str, functions: tuple[str, ...],
                    forbidden: frozenset[str]) -> dict[str, tuple[tuple[str, int], ...]]:
    tree = ast.parse(source)
    # What each module-level name is bound to (function bodies, assignments, imports).
    bindings: dict[str, list[ast.stmt]] = {}
    for stmt in tree.body:
        if _is_main_guard(stmt):
            continue  # code under `if __name__ == "__main__":` is never run by the grader
        for name in _bound_names(stmt):
            bindings.setdefault(name, []).append(stmt)
    direct = {name: [u for stmt in stmts for u in _names_used(stmt, forbidden)
                     if not isinstance(stmt, ast.Import)] for name, stmts in bindings.items()}
    refs = {name: {n.id for stmt in stmts for n in ast.walk(stmt) if isinstance(n, ast.Name)} & set(bindings)
            for name, stmts in bindings.items()}
    report = {}
    for fn in functions:
        seen, todo, uses = set(), [fn], []
        while todo:
            name = todo.pop()
            if name in seen or name not in bindings:
                continue
            seen.add(name)
            uses += direct.get(name, [])
            todo += sorted(refs.get(name, set()) - seen)
        report[fn] = tuple(sorted(set(uses), key=lambda u: u[1]))
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
            return Verdict(False, f"{ctx.entry}: the code has a syntax error (line {exc.lineno}: {exc.msg})")
        uses = [u for fn in functions for u in report.get(fn, [])]
        if uses:
            shown = ", ".join(f"{text} ({ctx.where(line)})" for text, line in uses[:3])
            instead = ctx.opt("instead", "elementary tensor operations")
            return Verdict(False, f"{ctx.entry} uses the library's own version: {shown}. This exercise asks "
                           f"you to write it yourself with {instead}, so {ctx.entry} earns no points.",
                           {"uses": [f"{ctx.where(line)}: {text}" for text, line in uses[:10]]},
                           lines=[line for _, line in uses[:3]])
        return Verdict(True, f"{ctx.entry} is written with elementary operations")
