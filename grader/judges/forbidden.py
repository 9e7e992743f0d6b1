"""``forbidden-calls``: an entry point must not use certain library functions (say,
``torch.sigmoid`` in an exercise about writing sigmoid). Seen two ways:

- **in the syntax tree**, whatever the spelling: ``torch.sigmoid``, ``F.sigmoid``,
  ``from torch import sigmoid as s``, ``x.sigmoid_()``, ``nn.Sigmoid()``,
  ``getattr(torch, "sigmoid")``, a module-level alias, or a helper function that uses it;
- **at run time**, for the functions listed in ``RUN_TIME`` (relu, sigmoid, tanh...):
  the exercise's other checks of the entry point run under a recorder of the library
  operators they dispatch (``DispatchRecorder`` in the sandbox's runner), so a name built
  at run time (``getattr(torch, "rel" + "u")``, ``importlib``) is seen as ``aten.relu``.
  Each function lists the operators that count, so elementary code that computes the
  same values (``torch.maximum(x, 0)``, ``torch.clamp``, ``torch.where``) is not it.

Limits of the record (docs/security.md): it is made in the student's own process, so
code that deliberately turns PyTorch's dispatch modes off or tampers with the recorder
is not seen by it; the syntax check flags the usual ways of doing that by name
(``TAMPERING``), not a name built at run time. Operators dispatched by other threads
the student's code starts are not recorded; neither is what a training loop's check
runs (never recorded: recording costs every operator a Python call), nor a call that
did not return a result record (a timeout, a crash). Everything the recorded steps
dispatch counts, including a callable the check itself hands the entry point, so a
course must not pass one that uses a function it forbids. With ``at_run_time: false``
a check reads the code only.
"""

from __future__ import annotations

import ast
import functools
from typing import TYPE_CHECKING

from grader.course.schema import Mapping
from grader.judges.base import Dispatched, Judge, JudgeContext, Unjudgeable, Verdict, register

if TYPE_CHECKING:
    from grader.course.model import CheckSpec

# The library functions whose use the run-time record can see: the names that mean one
# in a check's `names`, and the operators (as the sandbox records them) that count as
# calling it. Only the function's own operators: torch.maximum, clamp, where, exp and
# division dispatch aten.maximum, aten.clamp, aten.where..., never these.
RUN_TIME: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "relu": (frozenset({"relu", "relu_", "ReLU"}), frozenset({"aten.relu", "aten.relu_"})),
    "sigmoid": (
        frozenset({"sigmoid", "sigmoid_", "Sigmoid", "expit"}),
        frozenset({"aten.sigmoid", "aten.sigmoid_", "aten.special_expit"}),
    ),
    "tanh": (frozenset({"tanh", "tanh_", "Tanh"}), frozenset({"aten.tanh", "aten.tanh_"})),
    "softmax": (frozenset({"softmax", "Softmax"}), frozenset({"aten._softmax", "aten.softmax"})),
    "log_softmax": (
        frozenset({"log_softmax", "LogSoftmax"}),
        frozenset({"aten._log_softmax", "aten.log_softmax"}),
    ),
    "mse_loss": (frozenset({"mse_loss", "MSELoss"}), frozenset({"aten.mse_loss"})),
}

# The usual ways of turning the run-time record off, flagged by name in the syntax tree
# when a check records: they leave PyTorch's dispatch modes or pop them off the stack.
TAMPERING = frozenset(
    {
        "_python_dispatch",
        "_disable_current_modes",
        "_pop_mode",
        "_pop_mode_temporarily",
        "_get_current_dispatch_mode",
        "_get_current_dispatch_mode_stack",
        "_pop_torch_dispatch_mode",
        "_push_on_torch_dispatch_stack",
        "_set_torch_dispatch_mode",
        "_unset_dispatch_mode",
        "_len_torch_dispatch_stack",
        "_get_dispatch_stack_at",
        "_DisableTorchDispatch",
        "_ExcludeDispatchKeyGuard",
        "_dispatch_tls_set_dispatch_key_excluded",
        "_dispatch_tls_set_dispatch_key_included",
        "TorchDispatchMode",
        "DispatchRecorder",
    }
)

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
    options = {"names": "list", "functions": "list", "instead": "text", "at_run_time": "flag"}

    @classmethod
    def validate_options(cls, m: Mapping) -> None:
        super().validate_options(m)
        if not m.items("names"):
            raise m.error("names", "expected at least one forbidden name")

    def recorded_entries(self, spec: CheckSpec) -> frozenset[str]:
        if not watched({str(n) for n in spec.options.get("names", [])}):
            return frozenset()
        if not spec.options.get("at_run_time", True):
            return frozenset()
        return frozenset(str(f) for f in spec.options.get("functions", [spec.entry]))

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
        instead = ctx.opt("instead", "elementary tensor operations")
        if uses:
            shown = ", ".join(f"{text} ({ctx.where(line)})" for text, line in uses[:3])
            return Verdict(
                False,
                f"{ctx.entry} uses the library's own version: {shown}. This exercise asks "
                f"you to write it yourself with {instead}, so {ctx.entry} earns no points.",
                {"uses": [f"{ctx.where(line)}: {text}" for text, line in uses[:10]]},
                lines=[line for _, line in uses[:3]],
            )
        if self.recorded_entries(ctx.check):
            found = self._at_run_time(ctx, functions, forbidden, instead)
            if found is not None:
                return found
        return Verdict(True, f"{ctx.entry} is written with elementary operations")

    def _at_run_time(
        self, ctx: JudgeContext, functions: list[str], forbidden: set[str], instead: str
    ) -> Verdict | None:
        """The verdict of the run-time record and of the syntax check for tampering with
        it; None when neither shows anything."""
        tampering = find_forbidden(ctx.source or "", functions, set(TAMPERING))
        uses = [u for fn in functions for u in tampering.get(fn, [])]
        if uses:
            shown = ", ".join(f"{text} ({ctx.where(line)})" for text, line in uses[:3])
            return Verdict(
                False,
                f"{ctx.entry} reaches into PyTorch's dispatch modes: {shown}. The grader uses "
                f"them to see which library functions {ctx.entry} calls, so {ctx.entry} earns "
                "no points.",
                {"uses": [f"{ctx.where(line)}: {text}" for text, line in uses[:10]]},
                lines=[line for _, line in uses[:3]],
            )
        seen = seen_at_run_time(ctx.dispatched, set(functions), forbidden)
        if seen:
            names = [fn for fn in RUN_TIME if any(fn in fns for fns, _ in seen.values())]
            ops = sorted({op for _, found in seen.values() for op in found})
            return Verdict(
                False,
                f"{ctx.entry} called the library's {' and '.join(names)} at run time "
                f"({', '.join(ops)}). This exercise asks you to write it yourself with "
                f"{instead}, so {ctx.entry} earns no points.",
                {
                    "dispatched": [
                        f"{check}: {', '.join(found)}" for check, (_, found) in seen.items()
                    ][:10]
                },
            )
        if ctx.unreadable_records:
            raise Unjudgeable(
                f"{ctx.entry}: the record of what it called at run time was unreadable "
                f"({ctx.unreadable_records[0]}), so this check could not be judged"
            )
        return None


def watched(forbidden: set[str]) -> list[str]:
    """The functions of RUN_TIME that a check forbidding these names forbids."""
    return [fn for fn, (names, _) in RUN_TIME.items() if names & forbidden]


def seen_at_run_time(
    records: list[Dispatched], entries: set[str], forbidden: set[str]
) -> dict[str, tuple[list[str], list[str]]]:
    """check name -> (the forbidden functions, their operators) each record of these
    entry points shows, for the checks whose record shows one."""
    found = {}
    for record in records:
        if record.entry not in entries:
            continue
        fns = [fn for fn in watched(forbidden) if RUN_TIME[fn][1] & record.ops]
        if fns:
            ops = sorted(op for fn in fns for op in RUN_TIME[fn][1] & record.ops)
            found[record.check] = (fns, ops)
    return found
