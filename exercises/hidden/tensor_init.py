"""Hidden judge for tensor-init: a random initialiser draws fresh samples on every call."""

from __future__ import annotations

import torch

from grader.judge_api import JudgeContext, TensorValue, Verdict, describe_value


def fresh_samples(ctx: JudgeContext) -> Verdict:
    """Outputs 'first' and 'second': two calls with the same argument, one after the
    other. Random samples differ; a fixed pattern (or re-seeding inside the function)
    gives the same values twice."""
    first, second = ctx.outputs.get("first"), ctx.outputs.get("second")
    for label, value in (("first", first), ("second", second)):
        if not isinstance(value, TensorValue):
            return Verdict(
                False,
                f"{ctx.entry}: the {label} call returned {describe_value(value)}; "
                "expected a tensor",
            )
    a, b = first.data, second.data
    if a.shape != b.shape:
        return Verdict(
            False,
            f"{ctx.entry}: two calls with the same argument gave shapes "
            f"{list(a.shape)} and {list(b.shape)}",
        )
    if a.numel() > 1 and bool((a == a.flatten()[0]).all()):
        return Verdict(
            False, f"{ctx.entry}: every value is {float(a.flatten()[0]):g}; expected random samples"
        )
    if torch.equal(a, b):
        return Verdict(
            False,
            f"{ctx.entry}: two calls in a row returned exactly the same values. Random "
            "samples differ from call to call: draw them with PyTorch's generator (torch.rand, "
            "torch.randn) and do not build a fixed pattern or call torch.manual_seed inside "
            "the function",
        )
    return Verdict(True, f"{ctx.entry}: two calls in a row gave different samples")
