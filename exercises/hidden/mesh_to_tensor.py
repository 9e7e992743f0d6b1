"""Hidden judge for mesh-to-tensor: center_vertices centres and leaves v unchanged."""

from __future__ import annotations

import torch

from grader.judge_api import (
    JudgeContext,
    TensorValue,
    Verdict,
    describe_value,
    fmt_number,
    tensor_problems,
)


def centred_and_unchanged(ctx: JudgeContext) -> Verdict:
    """Outputs 'result' (what center_vertices returned) and 'v' (the caller's tensor
    afterwards); ctx.inputs['v'] is v as it was handed in."""
    before = ctx.inputs.get("v")
    assert isinstance(before, torch.Tensor), "the check must bind the vertices as 'v'"
    before = before.detach()
    result = ctx.outputs.get("result")
    after = ctx.outputs.get("v")
    expected = before - before.mean(dim=0)
    problems: list[str] = []
    details: dict = {}

    # 1. The caller's v must come back exactly as it went in.
    if not isinstance(after, TensorValue):
        problems.append("the caller's v could not be read back after the call")
    elif list(after.data.shape) != list(before.shape):
        problems.append(
            f"center_vertices changed the shape of the caller's v to {list(after.data.shape)}"
        )
    elif not torch.equal(after.data, before):
        moved = int((after.data != before).reshape(before.shape[0], -1).any(dim=1).sum())
        changed = f"{moved} of its {before.shape[0]} vertices were moved"
        problems.append(
            f"center_vertices changed the caller's v ({changed}). An in-place operation such as "
            "v -= ..., v.sub_(...) or v[:] = ... writes into the tensor you were given; "
            "compute a new tensor instead, e.g. v - v.mean(dim=0)"
        )

    # 2. The returned tensor must be v moved so that its centroid is the origin.
    p, d = tensor_problems(
        result, expected, atol=1e-5, rtol=1e-4, where="the result", reveal=ctx.discloses("expected")
    )
    if p:
        problems += p
        details.update(d)
    else:
        centroid = result.data.double().mean(dim=0)
        details["centroid_of_result"] = [fmt_number(float(c)) for c in centroid]

    if problems:
        return Verdict(False, "center_vertices: " + "; ".join(problems[:3]), details)
    return Verdict(
        True,
        f"center_vertices returned {describe_value(result)} "
        "centred on the origin and left v unchanged",
        details,
    )
