"""``match``: the value an entry point returns equals the reference solution's, for
the same inputs: tensors by type, shape, dtype, finiteness and values within a
tolerance; numbers, text and containers likewise."""

from __future__ import annotations

from grader.checks.base import Judge, JudgeContext, Verdict, output, register
from grader.checks.compare import describe, value_problems


@register
class Match(Judge):
    name = "match"
    needs_solution = True
    options = {"output": "text", "atol": "number", "rtol": "number", "values": "flag"}

    def judge(self, ctx: JudgeContext) -> Verdict:
        name, actual = output(ctx)
        assert ctx.expected is not None
        expected = ctx.expected[name]
        problems, details = value_problems(
            actual, expected, atol=float(ctx.opt("atol", 1e-5)), rtol=float(ctx.opt("rtol", 1e-4)),
            values=bool(ctx.opt("values", True)),
        )
        if problems:
            return Verdict(False, f"{ctx.entry}: " + "; ".join(problems[:3]), details)
        return Verdict(True, f"{ctx.entry} returned {describe(actual)}, as expected", details)
