"""Hidden judge for mesh-to-tensor: center_vertices leaves the caller's v unchanged."""

from __future__ import annotations

import torch

from grader.judges.base import JudgeContext, Verdict
from grader.judges.compare import describe_value
from grader.wire import TensorValue


def leaves_v_unchanged(ctx: JudgeContext) -> Verdict:
    """Outputs 'result' (what center_vertices returned) and 'v' (the caller's tensor
    afterwards); ctx.inputs['v'] is v as it was handed in.

    It judges only what its check names: a tensor comes back and the caller's v is as
    it went in. Whether the result is centred is the other checks' business (this one
    counts only together with them, ``needs:`` in the exercise), so a wrong centroid is
    not charged twice."""
    before = ctx.inputs.get("v")
    assert isinstance(before, torch.Tensor), "the check must bind the vertices as 'v'"
    before = before.detach()
    result = ctx.outputs.get("result")
    after = ctx.outputs.get("v")
    problems: list[str] = []

    if not isinstance(result, TensorValue):
        problems.append(
            f"center_vertices returned {describe_value(result)}; return the centred vertices "
            "as a new tensor"
        )
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
    if problems:
        return Verdict(False, "center_vertices: " + "; ".join(problems))
    return Verdict(
        True, f"center_vertices returned {describe_value(result)} and left the caller's v unchanged"
    )
