"""``match``: the value an entry point returns equals the reference solution's, for
the same inputs: tensors by type, shape, dtype, finiteness and values within a
tolerance; numbers, text and containers likewise."""

from __future__ import annotations

from typing import Any

from grader.checks.base import Judge, JudgeContext, Verdict, output, register
from grader.checks.compare import describe, value_problems


def compare_with_solution(ctx: JudgeContext) -> tuple[Any, list[str], dict[str, Any]]:
    """The student's value, how it differs from the reference solution's, and details;
    options ``output``, ``atol``, ``rtol`` and ``values`` say what and how closely."""
    name, actual = output(ctx)
    assert ctx.expected is not None
    problems, details = value_problems(
        actual, ctx.expected[name], atol=float(ctx.opt("atol", 1e-5)), rtol=float(ctx.opt("rtol", 1e-4)),
        values=bool(ctx.opt("values", True)),
    )
    return actual, problems, details


@register
class Match(Judge):
    name = "match"
    needs_solution = True
    options = {"output": "text", "atol": "number", "rtol": "number", "values": "flag"}

    def judge(self, ctx: JudgeContext) -> Verdict:
        actual, problems, details = compare_with_solution(ctx)
        if problems:
            return Verdict(False, f"{ctx.entry}: " + "; ".join(problems[:3]), details)
        return Verdict(True, f"{ctx.entry} returned {describe(actual)}, as expected", details)
