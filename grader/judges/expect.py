"""``expect``: the check states its expectation directly (grader/course/expectations.py):
a literal value (``expect: 4.0``), a predicate over the kept values (``that: "result <
0.05"``), or both, for one call or for every row of a table (``cases``). Judged here on
the decoded values; nothing of it runs in the sandbox.

A literal compares as the instructor wrote it: numbers with ``rtol``/``atol`` (a
one-element tensor counts as its number), lists item by item (a tensor of that shape
counts as its values), text, true/false and null exactly; ``{tensor: ..., dtype: ...}``
strictly, as ``match`` compares tensors (type, shape, dtype, values). The expected
value is shown only when the check discloses ``expected``; a predicate is always shown
as written, and should say nothing the instructor would keep hidden.

A table passes when every row does; with ``partial: true`` it earns the share of its
rows that pass. A row that raised is a failed row, the others are judged all the same.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from grader.judges.base import Judge, JudgeContext, Verdict, output, register
from grader.judges.compare import as_numbers, fmt_number, tensor_problems
from grader.judges.predicate import NotEvaluable, describe, explain, holds, show
from grader.sandbox.protocol.values import Raised, TensorValue

if TYPE_CHECKING:
    import torch

    from grader.course.expectations import Expectation, Row, Stated

ROWS_SHOWN = 4  # failing rows a message names


@register
class Expect(Judge):
    name = "expect"
    options = {"output": "text", "atol": "number", "rtol": "number", "partial": "flag"}

    def judge(self, ctx: JudgeContext) -> Verdict:
        stated = ctx.check.expectation
        assert stated is not None, "the expect judge needs expect, that or cases"
        if stated.rows:
            return _table(ctx, stated)
        name, actual = output(ctx)
        problems = _problems(ctx, actual, ctx.outputs, stated.expect, stated.expects, [stated.that])
        if problems:
            return Verdict(False, f"{ctx.entry}: " + "; ".join(problems[:3]))
        if stated.expects:
            return Verdict(True, f"{ctx.entry} returned {show(actual)}, as expected")
        assert stated.that is not None
        return Verdict(True, f"{ctx.entry}: {stated.that.predicate.text}, as expected")


def _table(ctx: JudgeContext, stated: Expectation) -> Verdict:
    failed: list[tuple[Row, list[str]]] = []
    for row in stated.rows:
        value = ctx.outputs.get(row.name, _Absent())
        source = row if row.expects else stated
        problems = _problems(
            ctx, value, {"result": value}, source.expect, source.expects, [row.that, stated.that]
        )
        if problems:
            failed.append((row, problems))
    total = len(stated.rows)
    fraction = (total - len(failed)) / total if ctx.opt("partial", False) else None
    details = {"cases": f"{total - len(failed)} of {total} as expected"}
    if not failed:
        return Verdict(True, f"{ctx.entry}: all {total} cases as expected", details, fraction)
    shown = [f"{_row_text(ctx, row)}: {'; '.join(problems[:2])}" for row, problems in failed]
    more = len(failed) - ROWS_SHOWN
    message = (
        f"{ctx.entry}: {len(failed)} of {total} cases fail: "
        + " | ".join(shown[:ROWS_SHOWN])
        + (f" | and {more} more" if more > 0 else "")
    )
    return Verdict(False, message, details, fraction)


def _row_text(ctx: JudgeContext, row: Row) -> str:
    """How a message names a row: the call itself when the check discloses its inputs."""
    if not ctx.discloses("inputs"):
        return f"case {row.number}"
    args = [_yaml_text(a) for a in row.args] + [
        f"{k}={_yaml_text(v)}" for k, v in row.kwargs.items()
    ]
    return f"{ctx.entry}({', '.join(args)})"


def _yaml_text(raw: Any) -> str:
    if isinstance(raw, dict):
        return "{" + ", ".join(f"{k}: {_yaml_text(v)}" for k, v in raw.items()) + "}"
    if isinstance(raw, list):
        return "[" + ", ".join(_yaml_text(v) for v in raw) + "]"
    return repr(raw)


class _Absent:
    def __repr__(self) -> str:
        return "<no value>"


def _problems(
    ctx: JudgeContext,
    actual: Any,
    env: dict[str, Any],
    expect: Any,
    expects: bool,
    predicates: list[Stated | None],
) -> list[str]:
    """What is wrong with one value: raised, differs from the literal, or a predicate
    that does not hold (or cannot be evaluated on it)."""
    if isinstance(actual, Raised):
        return [f"raised {actual.type}" + (f": {actual.message[:300]}" if actual.message else "")]
    if isinstance(actual, _Absent):
        return ["no value came back"]
    problems: list[str] = []
    if expects:
        problems += literal_problems(
            actual,
            expect,
            atol=float(ctx.opt("atol", 1e-5)),
            rtol=float(ctx.opt("rtol", 1e-4)),
            reveal=ctx.discloses("expected"),
        )
    for stated in predicates:
        if stated is None:
            continue
        text = stated.predicate.text
        try:
            if not holds(stated.predicate, env):
                problems.append(f"expected {text}; got {explain(stated.predicate, env)}")
        except NotEvaluable as exc:
            problems.append(f"expected {text}, which cannot be evaluated on your value: {exc}")
    return problems


# ------------------------------------------------------------------ literals
def literal_problems(
    actual: Any, expected: Any, *, atol: float, rtol: float, reveal: bool, where: str = ""
) -> list[str]:
    """How ``actual`` differs from a literal written in the YAML (see the module's words)."""
    prefix = f"{where}: " if where else ""
    if isinstance(expected, dict) and "tensor" in expected:
        problems, _ = tensor_problems(
            actual, _tensor_literal(expected), atol=atol, rtol=rtol, where=where, reveal=reveal
        )
        return problems
    if isinstance(expected, dict):
        return _dict_problems(actual, expected["dict"], atol, rtol, reveal, where)
    if isinstance(expected, list):
        return _list_problems(actual, expected, atol, rtol, reveal, where)
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        number = _as_number(actual)
        if number is None:
            return [f"{prefix}expected a number; got {describe(actual)}"]
        if _close(number, expected, atol, rtol):
            return []
        return [_differs(prefix, fmt_number(expected), actual, reveal)]
    if type(actual) is type(expected) and actual == expected:
        return []
    if type(actual) is not type(expected):
        kind = "None" if expected is None else f"a {type(expected).__name__}"
        return [f"{prefix}expected {show(expected) if reveal else kind}; got {describe(actual)}"]
    return [_differs(prefix, show(expected), actual, reveal)]


def _differs(prefix: str, expected: str, actual: Any, reveal: bool) -> str:
    if reveal:
        return f"{prefix}expected {expected}; got {show(actual)}"
    return f"{prefix}got {show(actual)}, which is not the expected value"


def _as_number(actual: Any) -> float | int | None:
    """A number, or the one number a one-element tensor holds (as ``x == 4.0`` reads it)."""
    if isinstance(actual, bool):
        return None
    if isinstance(actual, (int, float)):
        return actual
    if isinstance(actual, TensorValue) and actual.data.numel() == 1:
        import torch

        if actual.data.dtype != torch.bool and not actual.data.is_complex():
            return actual.data.item()
    return None


def _close(a: float, b: float, atol: float, rtol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)


def _tensor_literal(raw: dict) -> torch.Tensor:
    import torch

    # (The loader checked the dtype is one of grader.course.inputs.DTYPE_NAMES.)
    return torch.tensor(raw["tensor"], dtype=getattr(torch, raw.get("dtype", "float32")))


def _list_problems(
    actual: Any, expected: list, atol: float, rtol: float, reveal: bool, where: str
) -> list[str]:
    prefix = f"{where}: " if where else ""
    want = as_numbers(expected)  # nested lists of numbers, rows of one length
    if isinstance(actual, TensorValue) and want is not None:
        return _tensor_against_list(actual, want, atol, rtol, reveal, prefix)
    if not isinstance(actual, (list, tuple)):
        return [f"{prefix}expected a list of {len(expected)} items; got {describe(actual)}"]
    if len(actual) != len(expected):
        return [f"{prefix}expected {len(expected)} items; got {len(actual)}"]
    problems: list[str] = []
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        problems += literal_problems(
            a, e, atol=atol, rtol=rtol, reveal=reveal, where=f"{where or 'result'}[{i}]"
        )
    return problems[:6]


def _tensor_against_list(
    actual: TensorValue, want: torch.Tensor, atol: float, rtol: float, reveal: bool, prefix: str
) -> list[str]:
    """A tensor against a list literal, ``want`` (the list as float64)."""
    import torch

    data = actual.data
    if list(data.shape) != list(want.shape):
        return [f"{prefix}expected shape {list(want.shape)}; got {describe(actual)}"]
    if data.is_complex():
        return [f"{prefix}expected real numbers; got {describe(actual)}"]
    close = torch.isclose(data.double(), want, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return []
    bad = (~close).nonzero().tolist()
    at = bad[0]
    got = fmt_number(data[tuple(at)].item())
    if not reveal:
        return [
            f"{prefix}values differ from the expected ones at {len(bad)} of {data.numel()} "
            f"positions, e.g. at {at}, where yours is {got}"
        ]
    if data.numel() <= 6:
        return [
            f"{prefix}expected {show(TensorValue(want))[len('tensor(') : -1]}; got {show(actual)}"
        ]
    return [
        f"{prefix}values differ at {len(bad)} of {data.numel()} positions, e.g. at {at}: "
        f"expected {fmt_number(want[tuple(at)].item())}, got {got}"
    ]


def _listed_numbers(items: Any) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_listed_numbers(i) for i in items) + "]"
    return fmt_number(items)


def _dict_problems(
    actual: Any, expected: dict, atol: float, rtol: float, reveal: bool, where: str
) -> list[str]:
    prefix = f"{where}: " if where else ""
    if not isinstance(actual, dict):
        return [f"{prefix}expected a dict; got {describe(actual)}"]
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    problems = []
    if missing:
        problems.append(
            f"{prefix}missing keys {', '.join(repr(k) for k in missing[:3])}"
            if reveal
            else f"{prefix}{len(missing)} expected key(s) missing"
        )
    if extra:
        problems.append(f"{prefix}unexpected keys {', '.join(repr(k) for k in extra[:3])}")
    for key, want in expected.items():
        if key in actual:
            problems += literal_problems(
                actual[key],
                want,
                atol=atol,
                rtol=rtol,
                reveal=reveal,
                where=f"{where or 'result'}[{key!r}]",
            )
    return problems[:6]
