"""``match``: the value an entry point returns equals the reference solution's, for
the same inputs: tensors by type, shape, dtype, finiteness and values within a
tolerance; numbers, text and containers likewise."""

from __future__ import annotations

import math
from typing import Any

from grader.judges.base import Judge, JudgeContext, Verdict, output, register
from grader.judges.compare import as_numbers, describe_value, fmt_number, value_problems
from grader.sandbox.protocol.values import TensorValue

# What a check may leave to another check (``ignore: [dtype, scale]``), so that one
# mistake is charged once, by the check that names it: the channels of an image are
# judged apart from its dtype and from its 0-1 scale; a number's value apart from its
# Python type (a one-element tensor for a float).
IGNORABLE = ("dtype", "scale", "type")


def compare_with_solution(ctx: JudgeContext) -> tuple[Any, list[str], dict[str, Any]]:
    """The student's value, how it differs from the reference solution's, and details;
    options ``output``, ``atol``, ``rtol``, ``values`` and ``ignore`` say what and how
    closely."""
    name, actual = output(ctx)
    assert ctx.expected is not None
    ignore = set(ctx.opt("ignore", ()))
    options = {
        "atol": float(ctx.opt("atol", 1e-5)),
        "rtol": float(ctx.opt("rtol", 1e-4)),
        "values": bool(ctx.opt("values", True)),
        "reveal": ctx.discloses("expected"),
        "dtype": "dtype" not in ignore,
    }
    expected = ctx.expected[name]
    if "type" in ignore and _is_number(expected):
        number = as_numbers(actual)
        if number is not None and number.numel() == 1:
            problems, details = value_problems(number.item(), float(expected), **options)
            return actual, problems, details
    if "type" in ignore and not isinstance(actual, TensorValue):
        as_tensor = _as_tensor_like(actual, expected)
        if as_tensor is not None:
            problems, details = value_problems(as_tensor, expected, **options)
            return actual, problems, details
    problems, details = value_problems(actual, expected, **options)
    if problems and "scale" in ignore:
        factor = scale_factor(actual, ctx.expected[name], options["atol"], options["rtol"])
        if factor is not None:
            details["scale"] = f"the expected values times {fmt_number(factor)}"
            return actual, [], details
    return actual, problems, details


def _as_tensor_like(actual: Any, expected: Any) -> TensorValue | None:
    """A list or number as a tensor of the expected dtype when its values are exactly
    representable in it (else in float64, so a dtype problem is still named); None when
    the expected value is no tensor or ``actual`` holds no numbers."""
    import torch

    if isinstance(expected, TensorValue):
        expected = expected.data
    numbers = as_numbers(actual)
    if not isinstance(expected, torch.Tensor) or numbers is None:
        return None
    if expected.is_complex():
        return None
    cast = numbers.to(expected.dtype)
    exact = bool((cast.double() == numbers).all())
    return TensorValue(cast if exact else numbers)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def scale_factor(actual: Any, expected: Any, atol: float, rtol: float) -> float | None:
    """The one positive factor, other than 1, by which the student's tensor is the
    expected one, or None (the values differ otherwise, or are not a tensor)."""
    import torch

    if isinstance(expected, TensorValue):
        expected = expected.data
    if not isinstance(actual, TensorValue) or not isinstance(expected, torch.Tensor):
        return None
    a, e = actual.data.double(), expected.double()
    if a.shape != e.shape or not bool(torch.isfinite(a).all()):
        return None
    nonzero = e.abs() > atol
    if not bool(nonzero.any()):
        return None
    factor = float((a[nonzero] / e[nonzero]).median())
    if not math.isfinite(factor) or factor <= 0:
        return None
    close = torch.allclose(a / factor, e, rtol=rtol, atol=atol)
    return factor if close else None


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
        "ignore": "list of " + "|".join(IGNORABLE),
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
        left = left_to_other_checks(ctx, actual, details)
        return Verdict(
            True, f"{ctx.entry} returned {describe_value(actual)}, as expected{left}", details
        )


def left_to_other_checks(ctx: JudgeContext, actual: Any, details: dict[str, Any]) -> str:
    """What this check passed over and another check judges, said in passing: the
    student learns of it without being charged twice."""
    said = []
    expected = ctx.expected.get(ctx.opt("output", "result")) if ctx.expected else None
    if _is_number(expected) and type(actual) is not type(expected):
        said.append(f"its type ({describe_value(actual).split(' of ')[0]})")
    elif isinstance(expected, TensorValue) and not isinstance(actual, TensorValue):
        said.append(f"its type ({describe_value(actual)})")
    if (
        isinstance(actual, TensorValue)
        and isinstance(expected, TensorValue)
        and actual.data.dtype != expected.data.dtype
    ):
        said.append("its dtype")
    if "scale" in details:
        said.append(f"its scale ({details['scale']})")
    if not said:
        return ""
    return f" apart from {' and '.join(said)}, which another check judges"


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
