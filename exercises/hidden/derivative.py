"""Hidden helpers for derivative: a judge that reads the code to see that
derivative_of_square uses autograd rather than the formula 2 * x."""

from __future__ import annotations

from grader.judges.base import JudgeContext, Verdict
from grader.judges.compare import as_numbers, describe_value, value_problems
from grader.judges.forbidden import find_forbidden

# Any of these names, reached from the function (directly or through helpers), means
# autograd computes the derivative: t.backward(), t.grad, torch.autograd.grad,
# torch.func.grad, torch.autograd.functional.jacobian / vjp / ...
AUTOGRAD_NAMES = {"backward", "grad", "jacobian", "vjp", "jvp", "hessian", "vhp", "hvp"}


def judge_uses_autograd(ctx: JudgeContext) -> Verdict:
    """The entry point returns the right value (compared with the reference solution,
    whatever type holds it) and its code reaches one of AUTOGRAD_NAMES."""
    entry = ctx.entry
    if ctx.source is None:
        return Verdict(False, f"{entry}: the code could not be read")
    try:
        uses = find_forbidden(ctx.source, [entry], AUTOGRAD_NAMES).get(entry, [])
    except SyntaxError as exc:
        return Verdict(
            False, f"{entry}: the code has a syntax error (line {exc.lineno}: {exc.msg})"
        )
    if not uses:
        return Verdict(
            False,
            f"{entry} does not use autograd: no .backward(), .grad or torch.autograd.grad "
            "is reached from it. This exercise is about letting PyTorch find the derivative, so "
            "compute it with autograd instead of writing the formula 2 * x",
        )
    actual = ctx.outputs.get("result")
    expected = (ctx.expected or {}).get("result")
    # The value must be right (naming .grad is not enough), whatever holds it: returning
    # a tensor rather than a float is charged by the check that names the float, once.
    number = as_numbers(actual)
    if number is not None and number.numel() == 1 and isinstance(expected, float):
        actual = number.item()
    problems, details = value_problems(actual, expected, reveal=ctx.discloses("expected"))
    details["autograd_used"] = [f"line {line}: {text}" for text, line in uses[:5]]
    if problems:
        return Verdict(False, f"{entry} uses autograd, but: " + "; ".join(problems[:2]), details)
    return Verdict(
        True,
        f"{entry} computes the derivative with autograd and returned "
        f"{describe_value(ctx.outputs.get('result'))}",
        details,
    )
