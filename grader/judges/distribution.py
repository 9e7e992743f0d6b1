"""``distribution``: samples an entry point drew are judged with a Kolmogorov-Smirnov
test against the distribution they should follow.

The test rejects a correct sampler with probability ``alpha`` (default 1e-6), so an
honest submission fails this check about once in a million runs; runs are seeded, so
a given submission always gets the same verdict (``grader validate`` tries many seeds).
"""

from __future__ import annotations

# torch is imported inside functions: loading a course must not pay for it.
import math
from typing import TYPE_CHECKING, Any

from grader.judges.base import Judge, JudgeContext, Verdict, output, register
from grader.judges.compare import as_numbers, describe_value, fmt_number
from grader.sandbox.protocol.values import TensorValue

if TYPE_CHECKING:
    import torch

# What samples_verdict says of a value that holds no numbers at all.
NOT_SAMPLES = "not samples"


def uniform_cdf(low: float, high: float):
    return lambda x: ((x - low) / (high - low)).clamp(0.0, 1.0)


def normal_cdf(mean: float, std: float):
    import torch

    return lambda x: 0.5 * (1.0 + torch.erf((x - mean) / (std * math.sqrt(2.0))))


def ks_statistic(samples: torch.Tensor, cdf) -> float:
    import torch

    x, _ = torch.sort(samples.double().flatten())
    n = x.numel()
    f = cdf(x)
    upper = torch.arange(1, n + 1, dtype=torch.float64) / n - f
    lower = f - torch.arange(0, n, dtype=torch.float64) / n
    return float(torch.maximum(upper, lower).max())


def ks_pvalue(d: float, n: int) -> float:
    """P(D >= d) for n samples under the null (Kolmogorov's limit with Stephens'
    small-sample correction)."""
    x = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    if x < 0.2:
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = 2.0 * (-1) ** (k - 1) * math.exp(-2.0 * k * k * x * x)
        total += term
        if abs(term) < 1e-16:
            break
    return min(max(total, 0.0), 1.0)


@register
class Distribution(Judge):
    name = "distribution"
    references = {"output": (("kept",), "result")}
    options = {
        "output": "text",
        "dist": "one of uniform|normal",
        "low": "number",
        "high": "number",
        "mean": "number",
        "std": "number",
        "alpha": "number",
    }

    def judge(self, ctx: JudgeContext) -> Verdict:
        _, actual = output(ctx)
        verdict = self.samples_verdict(ctx, actual)
        # A wrong type is named first, and the values are still tested as samples: the
        # student learns both halves at once.
        wrong_type = self.type_problem(actual)
        if wrong_type is None:
            return verdict
        if verdict.message.startswith(NOT_SAMPLES):
            return Verdict(False, f"{ctx.entry}: {wrong_type}", figures=verdict.figures)
        said = verdict.message.removeprefix(f"{ctx.entry}: ")
        half = "its values are right" if verdict.passed else "its values are wrong too"
        verdict.message = f"{ctx.entry}: {wrong_type}; {half}: {said}"
        verdict.passed = False
        return verdict

    @staticmethod
    def type_problem(actual: Any) -> str | None:
        if not isinstance(actual, TensorValue):
            return f"got {describe_value(actual)}; expected a tensor of samples"
        if not actual.data.is_floating_point():
            return f"got {describe_value(actual)}; samples must be floating point"
        return None

    def samples_verdict(self, ctx: JudgeContext, actual: Any) -> Verdict:
        import torch

        data = as_numbers(actual)
        if data is None:
            return Verdict(False, NOT_SAMPLES)
        if data.numel() < 20:
            return Verdict(False, f"{ctx.entry}: got only {data.numel()} samples")
        if not bool(torch.isfinite(data).all()):
            return Verdict(False, f"{ctx.entry}: the samples contain NaN or infinite values")
        alpha = float(ctx.opt("alpha", 1e-6))
        dist = ctx.opt("dist", "uniform")
        flat = data.double().flatten()
        details = {
            "samples": flat.numel(),
            "mean": fmt_number(float(flat.mean())),
            "std": fmt_number(float(flat.std())),
            "min": fmt_number(float(flat.min())),
            "max": fmt_number(float(flat.max())),
        }
        # The expected distribution is the exercise's own statement, not a hidden answer.
        if dist == "uniform":
            low, high = float(ctx.opt("low", 0.0)), float(ctx.opt("high", 1.0))
            density = {"dist": "uniform", "low": low, "high": high}
            details.update(
                {
                    "expected_mean": fmt_number((low + high) / 2),
                    "expected_std": fmt_number((high - low) / math.sqrt(12)),
                }
            )
        else:
            mean, std = float(ctx.opt("mean", 0.0)), float(ctx.opt("std", 1.0))
            density = {"dist": "normal", "mean": mean, "std": std}
            details.update({"expected_mean": fmt_number(mean), "expected_std": fmt_number(std)})
        figures = [
            {
                "kind": "histogram",
                "title": f"{ctx.entry}: your samples",
                "samples": flat.numel(),
                **histogram(flat),
                "density": density,
            }
        ]
        if dist == "uniform":
            outside = int(((flat < low) | (flat >= high)).sum())
            if outside:
                return Verdict(
                    False,
                    f"{ctx.entry}: {outside} of {flat.numel()} samples lie outside "
                    f"[{fmt_number(low)}, {fmt_number(high)})",
                    details,
                    figures=figures,
                )
            cdf = uniform_cdf(low, high)
            label = f"uniform on [{fmt_number(low)}, {fmt_number(high)})"
        else:
            cdf = normal_cdf(mean, std)
            label = f"normal with mean {fmt_number(mean)} and std {fmt_number(std)}"
        d = ks_statistic(flat, cdf)
        p = ks_pvalue(d, flat.numel())
        details.update(
            {"ks_statistic": fmt_number(d), "p_value": fmt_number(p), "alpha": fmt_number(alpha)}
        )
        if p < alpha:
            return Verdict(
                False,
                f"{ctx.entry}: the samples do not look {label}: their mean is "
                f"{details['mean']} and std {details['std']} (expected {details['expected_mean']} "
                f"and {details['expected_std']}); a Kolmogorov-Smirnov test rejects them "
                f"(p = {fmt_number(p)})",
                details,
                figures=figures,
            )
        return Verdict(
            True,
            f"{ctx.entry}: {flat.numel()} samples consistent with {label} "
            f"(Kolmogorov-Smirnov p = {fmt_number(p)})",
            details,
        )


def histogram(x: torch.Tensor, bins: int = 30) -> dict:
    import torch

    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        hi = lo + 1.0
    counts = torch.histc(x, bins=bins, min=lo, max=hi)
    return {"low": lo, "high": hi, "counts": [int(c) for c in counts]}
