"""``match``: the value an entry point returns equals the reference solution's, for
the same inputs: tensors by type, shape, dtype, finiteness and values within a
tolerance; numbers, text and containers likewise."""

from __future__ import annotations

from typing import Any

from grader.judges.base import Judge, JudgeContext, Verdict, output, register
from grader.judges.compare import describe_value, value_problems
from grader.sandbox.protocol.values import TensorValue


def compare_with_solution(ctx: JudgeContext) -> tuple[Any, list[str], dict[str, Any]]:
    """The student's value, how it differs from the reference solution's, and details;
    options ``output``, ``atol``, ``rtol`` and ``values`` say what and how closely."""
    name, actual = output(ctx)
    assert ctx.expected is not None
    problems, details = value_problems(
        actual,
        ctx.expected[name],
        atol=float(ctx.opt("atol", 1e-5)),
        rtol=float(ctx.opt("rtol", 1e-4)),
        values=bool(ctx.opt("values", True)),
        reveal=ctx.discloses("expected"),
    )
    return actual, problems, details


@register
class Match(Judge):
    name = "match"
    needs_solution = True
    references = {"output": (("kept",), "result")}
    options = {
        "output": "text",
        "atol": "number",
        "rtol": "number",
        "values": "flag",
        "picture": "one of channels",
    }

    def judge(self, ctx: JudgeContext) -> Verdict:
        actual, problems, details = compare_with_solution(ctx)
        figures = (
            channels_figure(ctx, actual) if ctx.opt("picture") == "channels" and problems else []
        )
        if problems:
            return Verdict(
                False, f"{ctx.entry}: " + "; ".join(problems[:3]), details, figures=figures
            )
        return Verdict(True, f"{ctx.entry} returned {describe_value(actual)}, as expected", details)


PICTURE_LIMIT = 64  # pixels per side: a report shows small images, not photographs


def channels_figure(ctx: JudgeContext, actual: Any) -> list[dict[str, Any]]:
    """The student's [C, H, W] result as pictures, next to the expected one when the
    exercise discloses it (the expected image shows the hidden input)."""
    name = ctx.opt("output", "result")
    expected = ctx.expected.get(name) if ctx.expected and ctx.discloses("expected") else None
    images = {"got": _image(actual), "expected": _image(expected)}
    if images["got"] is None:
        return []
    return [
        {
            "kind": "channels",
            "title": f"{ctx.entry}: expected and your channels",
            "labels": ["red", "green", "blue"],
            **images,
        }
    ]


def _image(value: Any) -> list | None:
    import torch

    data = value.data if isinstance(value, TensorValue) else value
    if (
        not isinstance(data, torch.Tensor)
        or data.dim() != 3
        or data.shape[0] > 4
        or max(data.shape[1:]) > PICTURE_LIMIT
        or data.numel() == 0
    ):
        return None
    return data.double().round(decimals=3).tolist()
