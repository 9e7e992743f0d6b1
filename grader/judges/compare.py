"""Compare a student's value with an expected one and say, in plain words, how they
differ. Used by every judge that compares results."""

from __future__ import annotations

# torch is imported inside functions: loading a course must not pay for it.
import math
from typing import TYPE_CHECKING, Any

from grader.sandbox.protocol.values import ModuleValue, OpaqueValue, TensorValue

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


def describe_value(value: Any) -> str:
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


def tensor_problems(
    actual: Any,
    expected: torch.Tensor,
    *,
    atol: float,
    rtol: float,
    values: bool = True,
    where: str = "",
    reveal: bool = True,
    dtype: bool = True,
) -> tuple[list[str], dict[str, Any]]:
    """Problems of ``actual`` against the expected tensor, and details for reports.

    Shapes and dtypes are the exercise's contract and named (the dtype unless ``dtype``
    is off: a check that leaves the dtype to another check compares values only). Expected *values*
    are the answer: with ``reveal`` off, messages and details give where values differ
    and what the student returned there, never what was expected."""
    import torch

    prefix = f"{where}: " if where else ""
    details: dict[str, Any] = {
        "expected": f"{str(expected.dtype).replace('torch.', '')} tensor of shape "
        f"{list(expected.shape)}"
    }
    if not isinstance(actual, TensorValue):
        note = _same_values_note(actual, expected, atol=atol, rtol=rtol) if values else ""
        return [f"{prefix}got {describe_value(actual)}; expected a tensor{note}"], details
    data = actual.data
    details["got"] = f"{str(data.dtype).replace('torch.', '')} tensor of shape {list(data.shape)}"
    problems = []
    if not actual.exact:
        problems.append(
            f"{prefix}got a subclass of torch.Tensor ({actual.cls}); return a plain torch.Tensor"
        )
    if list(data.shape) != list(expected.shape):
        problems.append(f"{prefix}shape is {list(data.shape)}; expected {list(expected.shape)}")
    if dtype and data.dtype != expected.dtype:
        problems.append(
            f"{prefix}dtype is {str(data.dtype).replace('torch.', '')}; "
            f"expected {str(expected.dtype).replace('torch.', '')}"
        )
    if not values or list(data.shape) != list(expected.shape):
        return problems, details
    # A wrong dtype or class still gets its values compared: the student learns both
    # halves at once instead of fixing the type only to find the values wrong too.
    typed_wrongly = bool(problems)
    if data.is_floating_point() or data.is_complex():
        nan = int(torch.isnan(data).sum())
        inf = int(torch.isinf(data).sum())
        if nan or inf:
            details["non_finite"] = {"nan": nan, "inf": inf}
            first = (~torch.isfinite(data)).nonzero()[0].tolist()
            details["first_non_finite_at"] = first
            kinds = " and ".join(
                f"{n} {word}" for n, word in ((nan, "NaN"), (inf, "infinite")) if n
            )
            problems.append(
                f"{prefix}contains {kinds} {'value' if nan + inf == 1 else 'values'} "
                f"(the first at {first}), where every value should be a finite number"
            )
            return problems, details
    both_bool = data.dtype == torch.bool and expected.dtype == torch.bool
    a = data if both_bool else data.double()
    e = expected if both_bool else expected.double()
    if both_bool or not (data.is_floating_point() or expected.is_floating_point()):
        close = a == e
    else:
        close = torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        if typed_wrongly:
            problems[-1] += f"; the {'value is' if data.numel() == 1 else 'values are'} right"
        return problems, details
    bad = (~close).nonzero().tolist()
    shown = []
    for index in bad[:MAX_SHOWN]:
        row = {"index": index, "got": fmt_number(a[tuple(index)].item())}
        if reveal:
            row["expected"] = fmt_number(e[tuple(index)].item())
        shown.append(row)
    details["mismatches"] = shown
    example = shown[0]
    if reveal:
        at = f"e.g. at {example['index']}: expected {example['expected']}, got {example['got']}"
    else:
        at = f"e.g. at {example['index']}, where yours is {example['got']}"
    problems.append(
        f"{prefix}values differ at {len(bad)} of {data.numel()} positions, {at}"
        + diagnosis(a, e, close, rtol=rtol, atol=atol, numbers=reveal)
    )
    return problems, details


def diagnosis(
    a: torch.Tensor,
    e: torch.Tensor,
    close: torch.Tensor,
    *,
    rtol: float,
    atol: float,
    numbers: bool = True,
) -> str:
    """What kind of wrong two same-shaped tensors are: the right values in other places
    (a reshape for a permute), or every value off by one factor or one offset (dividing
    by 256, a forgotten shift). Without ``numbers`` the factor and offset are not given:
    with the student's own values beside them, they would give the expected ones away."""
    import torch

    if a.dtype == torch.bool or a.numel() < 2:
        return ""
    flat_a, flat_e = a.flatten(), e.flatten()
    if torch.allclose(flat_a.sort().values, flat_e.sort().values, rtol=rtol, atol=atol):
        return (
            "; your result holds the expected values, but at other positions (are axes swapped, "
            "or reshaped where they should be permuted?)"
        )
    nonzero = flat_e.abs() > atol
    if int(nonzero.sum()) >= 2:
        ratio = flat_a[nonzero] / flat_e[nonzero]
        factor = float(ratio.median())
        if (
            math.isfinite(factor)
            and factor != 0
            and torch.allclose(flat_a, flat_e * factor, rtol=rtol, atol=atol)
        ):
            if not numbers:
                return "; every value is the expected one times the same factor"
            return f"; every value is the expected one times {fmt_number(factor)}"
    offset = float((flat_a - flat_e).median())
    if math.isfinite(offset) and torch.allclose(flat_a, flat_e + offset, rtol=rtol, atol=atol):
        if not numbers:
            return "; every value is the expected one plus the same amount"
        return (
            f"; every value is the expected one {'plus' if offset > 0 else 'minus'} "
            f"{fmt_number(abs(offset))}"
        )
    if int((~close).sum()) * 10 <= close.numel() and int((~close).sum()) <= 3:
        return "; the other values are right"
    return ""


def value_problems(
    actual: Any,
    expected: Any,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    values: bool = True,
    where: str = "",
    reveal: bool = True,
    dtype: bool = True,
) -> tuple[list[str], dict[str, Any]]:
    """Compare any decoded value: tensors, numbers, text, containers. Types, lengths and
    shapes are always named; with ``reveal`` off, expected values and keys are not."""
    import torch

    prefix = f"{where}: " if where else ""
    # The same options all the way down, into tensors and the items of containers.
    how = {"atol": atol, "rtol": rtol, "values": values, "reveal": reveal, "dtype": dtype}
    if isinstance(expected, TensorValue):
        expected = expected.data
    if isinstance(expected, torch.Tensor):
        return tensor_problems(actual, expected, where=where, **how)
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if type(actual) is type(expected) and actual == expected:
            return [], {}
        if not reveal and type(actual) is type(expected):
            return [f"{prefix}got {describe_value(actual)}, which is not the expected value"], {}
        if not reveal:
            return [f"{prefix}got {describe_value(actual)}; expected {_kind(expected)}"], {}
        return [f"{prefix}got {describe_value(actual)}; expected {describe_value(expected)}"], {}
    if isinstance(expected, (int, float)):
        if (
            isinstance(expected, float)
            and not isinstance(actual, float)
            or isinstance(expected, int)
            and not isinstance(actual, int)
            or isinstance(actual, bool)
        ):
            return [
                f"{prefix}got {describe_value(actual)}; expected a Python {type(expected).__name__}"
                + (
                    " (use .item() to turn a one-element tensor into a number)"
                    if isinstance(actual, TensorValue)
                    else ""
                )
                + (_number_note(actual, expected, atol, rtol, reveal) if values else "")
            ], {}
        if not values or math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol):
            return [], {}
        if not reveal:
            return [f"{prefix}got {fmt_number(actual)}, which is not the expected value"], {}
        return [f"{prefix}got {fmt_number(actual)}; expected {fmt_number(expected)}"], {}
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            note = _same_values_note(actual, expected, atol=atol, rtol=rtol) if values else ""
            return [f"{prefix}got {describe_value(actual)}; expected {_kind(expected)}{note}"], {}
        if len(actual) != len(expected):
            return [f"{prefix}got {len(actual)} items; expected {len(expected)}"], {}
        problems: list[str] = []
        details: dict[str, Any] = {}
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            p, d = value_problems(a, e, where=f"{where or 'result'}[{i}]", **how)
            problems += p
            if d:
                details[f"item {i}"] = d
        return problems, details
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{prefix}got {describe_value(actual)}; expected a dict"], {}
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        problems = []
        if missing:
            # Keys a hidden input holds (the words of a hidden sentence) are counted, not named.
            problems.append(
                f"{prefix}missing keys {_few(missing)}"
                if reveal
                else f"{prefix}{len(missing)} expected "
                f"{'key is' if len(missing) == 1 else 'keys are'} missing"
            )
        if extra:
            problems.append(f"{prefix}unexpected keys {_few(extra)}")
        for key in expected:
            if key in actual:
                p, _ = value_problems(
                    actual[key], expected[key], where=f"{where or 'result'}[{key!r}]", **how
                )
                problems += p
        return problems[:6], {}
    return [f"{prefix}cannot compare with {describe_value(expected)}"], {}


def as_numbers(value: Any) -> torch.Tensor | None:
    """A number, a tensor or nested lists of numbers as a float64 tensor, to compare
    values across types; None for anything else (text, None, dicts, ragged lists)."""
    import torch

    if isinstance(value, TensorValue):
        value = value.data
    if isinstance(value, torch.Tensor):
        return None if value.is_complex() else value.double()
    if isinstance(value, bool) or not isinstance(value, (int, float, list, tuple)):
        return None
    try:
        return torch.tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None


def _same_values(actual: Any, expected: Any, *, atol: float, rtol: float) -> bool | None:
    """Whether two values of different types hold the same numbers in the same shape;
    None when they cannot be compared that way."""
    import torch

    a, e = as_numbers(actual), as_numbers(expected)
    if a is None or e is None or a.shape != e.shape:
        return None
    return bool(torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True).all())


def _same_values_note(actual: Any, expected: Any, *, atol: float, rtol: float) -> str:
    """After "got X; expected a Y": whether X's values are the right ones all the same."""
    same = _same_values(actual, expected, atol=atol, rtol=rtol)
    if same is None:
        return ""
    return "; its values are right" if same else "; its values are wrong too"


def _number_note(actual: Any, expected: float, atol: float, rtol: float, reveal: bool) -> str:
    """After "got X; expected a Python int": whether X's value is the right one."""
    number = as_numbers(actual)
    if number is None or number.numel() != 1:
        return ""
    got = number.item()
    if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
        return f"; its value, {fmt_number(got)}, is right"
    if reveal:
        expected_text = fmt_number(expected)
        return f"; its value is wrong too: {fmt_number(got)}, where {expected_text} is expected"
    return f"; its value, {fmt_number(got)}, is wrong too"


def _kind(expected: Any) -> str:
    """What kind of value was expected, without the value itself."""
    if expected is None:
        return "None"
    if isinstance(expected, (bool, int, float, str, list, tuple, dict)):
        return f"a {type(expected).__name__}"
    return describe_value(expected)


def _few(items: list[Any]) -> str:
    shown = ", ".join(repr(i) for i in items[:MAX_SHOWN])
    return shown + (f" and {len(items) - MAX_SHOWN} more" if len(items) > MAX_SHOWN else "")
