"""``autograd``: a gradient computed by the student's code matches the reference
solution's, and the inputs named in ``unchanged`` come back as they went in: same
values, no ``requires_grad`` and no ``.grad`` attached."""

from __future__ import annotations

# torch is imported inside functions: loading a course must not pay for it.
from grader.judges.base import Judge, JudgeContext, Verdict, register
from grader.judges.compare import describe_value
from grader.judges.match import compare_with_solution
from grader.sandbox.protocol.values import TensorValue


@register
class Autograd(Judge):
    name = "autograd"
    needs_solution = True
    options = {"output": "text", "atol": "number", "rtol": "number", "unchanged": "list"}
    references = {"output": (("kept",), "result"), "unchanged": (("kept", "bound"), None)}

    def judge(self, ctx: JudgeContext) -> Verdict:
        import torch

        actual, problems, details = compare_with_solution(ctx)
        if isinstance(actual, TensorValue) and actual.requires_grad:
            problems.append("the returned gradient still requires grad; return it detached")
        for arg in ctx.opt("unchanged", []):
            after = ctx.outputs.get(arg)
            before = ctx.inputs.get(arg)
            if not isinstance(after, TensorValue) or not isinstance(before, torch.Tensor):
                continue
            if after.requires_grad or after.has_grad:
                problems.append(
                    f"the caller's '{arg}' has requires_grad or a .grad attached afterwards; "
                    "work on a detached copy (e.g. point.detach().clone().requires_grad_())"
                )
            elif after.data.shape != before.shape or not torch.equal(after.data, before):
                problems.append(f"the caller's '{arg}' was changed")
        if problems:
            return Verdict(False, f"{ctx.entry}: " + "; ".join(problems[:3]), details)
        return Verdict(
            True, f"{ctx.entry} returned {describe_value(actual)} with the right gradient", details
        )
