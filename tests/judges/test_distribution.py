"""The Kolmogorov-Smirnov test behind `distribution` checks: its p-values match the
known distribution, and its false-fail rate is what the documentation states."""

from __future__ import annotations

import math

import torch

from grader.judges.distribution import ks_pvalue, ks_statistic, normal_cdf, uniform_cdf


def test_pvalue_matches_known_critical_values():
    n = 10_000
    # Classic large-n critical values of sqrt(n) * D: 1.358 at 5 %, 1.628 at 1 %.
    assert math.isclose(ks_pvalue(1.358 / math.sqrt(n), n), 0.05, rel_tol=0.03)
    assert math.isclose(ks_pvalue(1.628 / math.sqrt(n), n), 0.01, rel_tol=0.05)
    assert ks_pvalue(0.0, n) == 1.0 and ks_pvalue(1.0, n) < 1e-300 + 1e-12


def test_false_fail_rate_is_as_stated():
    """Under the null, P(p < alpha) = alpha: measured at alpha = 1 % over 2000 draws."""
    gen = torch.Generator().manual_seed(1)
    rejected = 0
    for _ in range(2000):
        p = ks_pvalue(ks_statistic(torch.rand(500, generator=gen), uniform_cdf(0, 1)), 500)
        rejected += p < 0.01
    assert 0.004 <= rejected / 2000 <= 0.018


def test_power_against_typical_mistakes():
    gen = torch.Generator().manual_seed(2)
    normal_as_uniform = torch.randn(5000, generator=gen).clamp(0, 0.999)
    assert ks_pvalue(ks_statistic(normal_as_uniform, uniform_cdf(0, 1)), 5000) < 1e-6
    uniform_as_normal = torch.rand(5000, generator=gen)
    assert ks_pvalue(ks_statistic(uniform_as_normal, normal_cdf(0, 1)), 5000) < 1e-6
    scaled = torch.randn(5000, generator=gen) * 1.2
    assert ks_pvalue(ks_statistic(scaled, normal_cdf(0, 1)), 5000) < 1e-6
