"""Compare a student's value with an expected one and say, in plain words, how they
differ. Used by every judge that compares results."""

from __future__ import annotations

# torch is imported inside functions: loading a course must not pay for it.
import math
from typing import TYPE_CHECKING, Any

from grader.wire import ModuleValue, OpaqueValue, TensorValue

if TYPE_CHECKING:
    import torch

MAX_SHOWN = 3


def fmt_number(x: float) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.6g}"


def describe(value: Any) -> str:
    """A short description of a value, for messages."""
    import torch

    if isinstance(value, TensorValue):
        shape = list(value.data.shape)
        kind = "tensor" if value.exact else f"{value.cls} (a torch.Tensor subclass)"
        return f"a {str(value.data.dtype).replace('torch.', '')} {kind} of shape {shape}"
    if isinstance(value, ModuleValue):
        return f"a module of class {value.cls}"
    if isinstance(value, OpaqueValue):
        return f"an object of class {value.cls}"
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"the bool {value}"
    if isinstance(value, int):
        return f"the int {value}"
    if isinstance(value, float):
        return f"the float {fmt_number(value)}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, torch.Size):
        return f"torch.Size({list(value)})"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} items"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"a dict of {len(value)} items"
    return f"a {type(value).__name__}"


def tensor_problems(actual: Any, expected: torch.Tensor, *, atol: float, rtol: float,
                    values: bool = True, where: str = "") -> tuple[list[str], dict[str, Any]]:
    """Problems of ``actual`` against the expected tensor, and details for reports."""
    import torch

    prefix = f"{where}: " if where else ""
    details: dict[str, Any] = {"expected": f"{str(expected.dtype).replace('torch.', '')} tensor of shape {list(expected.shape)}"}
    if not isinstance(actual, TensorValue):
        return [f"{prefix}got {describe(actual)}; expected a tensor"], details
    data = actual.data
    details["got"] = f"{str(data.dtype).replace('torch.', '')} tensor of shape {list(data.shape)}"
    problems = []
    if not actual.exact:
        problems.append(f"{prefix}got a subclass of torch.Tensor ({actual.cls}); return a plain torch.Tensor")
    if list(data.shape) != list(expected.shape):
        problems.append(f"{prefix}shape is {list(data.shape)}; expected {list(expected.shape)}")
    if data.dtype != expected.dtype:
        problems.append(f"{prefix}dtype is {str(data.dtype).replace('torch.', '')}; expected {str(expected.dtype).replace('torch.', '')}")
    if problems or not values:
        return problems, details
    if data.is_floating_point() or data.is_complex():
        nan = int(torch.isnan(data).sum())
        inf = int(torch.isinf(data).sum())
        if nan or inf:
            details["non_finite"] = {"nan": nan, "inf": inf}
            problems.append(f"{prefix}contains {nan} NaN and {inf} infinite values")
            return problems, details
    a = data.double() if data.dtype != torch.bool else data
    e = expected.double() if expected.dtype != torch.bool else expected
    if data.dtype == torch.bool or not data.is_floating_point():
        close = a == e
    else:
        close = torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return problems, details
    bad = (~close).nonzero().tolist()
    shown = []
    for index in bad[:MAX_SHOWN]:
        shown.append({"index": index, "expected": fmt_number(e[tuple(index)].item()),
                      "got": fmt_number(a[tuple(index)].item())})
    details["mismatches"] = shown
    example = shown[0]
    problems.append(
        f"{prefix}values differ at {len(bad)} of {data.numel()} positions, e.g. at {example['index']}: "
        f"expected {example['expected']}, got {example['got']}"
    )
    return problems, details


def value_problems(actual: Any, expected: Any, *, atol: float = 1e-6, rtol: float = 1e-5,
                   values: bool = True, where: str = "") -> tuple[list[str], dict[str, Any]]:
    """Compare any decoded value: tensors, numbers, text, containers."""
    import torch

    prefix = f"{where}: " if where else ""
    if isinstance(expected, TensorValue):
        expected = expected.data
    if isinstance(expected, torch.Tensor):
        return tensor_problems(actual, expected, atol=atol, rtol=rtol, values=values, where=where)
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if type(actual) is type(expected) and actual == expected:
            return [], {}
        return [f"{prefix}got {describe(actual)}; expected {describe(expected)}"], {}
    if isinstance(expected, (int, float)):
        if isinstance(expected, float) and not isinstance(actual, float) or \
                isinstance(expected, int) and not isinstance(actual, int) or isinstance(actual, bool):
            return [f"{prefix}got {describe(actual)}; expected a Python {type(expected).__name__}"
                    + (" (use .item() to turn a one-element tensor into a number)" if isinstance(actual, TensorValue) else "")], {}
        if not values or math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol):
            return [], {}
        return [f"{prefix}got {fmt_number(actual)}; expected {fmt_number(expected)}"], {}
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            return [f"{prefix}got {describe(actual)}; expected {describe(expected)}"], {}
        if len(actual) != len(expected):
            return [f"{prefix}got {len(actual)} items; expected {len(expected)}"], {}
        problems: list[str] = []
        details: dict[str, Any] = {}
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            p, d = value_problems(a, e, atol=atol, rtol=rtol, values=values, where=f"{where or 'result'}[{i}]")
            problems += p
            if d:
                details[f"item {i}"] = d
        return problems, details
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{prefix}got {describe(actual)}; expected a dict"], {}
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        problems = []
        if missing:
            problems.append(f"{prefix}missing keys {_few(missing)}")
        if extra:
            problems.append(f"{prefix}unexpected keys {_few(extra)}")
        for key in expected:
            if key in actual:
                p, _ = value_problems(actual[key], expected[key], atol=atol, rtol=rtol, values=values,
                                      where=f"{where or 'result'}[{key!r}]")
                problems += p
        return problems[:6], {}
    return [f"{prefix}cannot compare with {describe(expected)}"], {}


def _few(items: list[Any]) -> str:
    shown = ", ".join(repr(i) for i in items[:MAX_SHOWN])
    return shown + (f" and {len(items) - MAX_SHOWN} more" if len(items) > MAX_SHOWN else "")
