"""The Kolmogorov-Smirnov test behind `distribution` checks: its p-values match the
known distribution, and its false-fail rate is what the documentation states."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from judging import judge, plan_check, returned

from grader.course.schema import ExerciseError
from grader.grading.plan import PlannedCheck
from grader.judges import Verdict
from grader.judges.distribution import histogram, ks_pvalue, ks_statistic, normal_cdf, uniform_cdf


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


# ----------------------------------------------------- the verdicts, on hand-made outputs
# The ``distribution`` judge on hand-made samples: the right distribution passes, each
# typical wrong one fails with its own words, and every option of the YAML is used.

CHECK = """
judge: distribution
call: [[2000]]
"""


def check(tmp_path: Path, options: str = "") -> PlannedCheck:
    return plan_check(tmp_path, CHECK + (f"with: {options}" if options else ""))


def samples(seed: int = 0, n: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=gen), torch.randn(n, generator=gen)


def verdict(pc: PlannedCheck, got: object, name: str = "result") -> Verdict:
    return judge(pc, returned(**{name: got}))


def test_uniform_on_zero_one_by_default(tmp_path: Path):
    uniform, normal = samples()
    v = verdict(check(tmp_path), uniform)
    assert v.passed, v.message
    assert v.message.startswith(
        "f: 2000 samples consistent with uniform on [0, 1) (Kolmogorov-Smirnov p = "
    )
    assert v.details["expected_mean"] == "0.5" and v.details["expected_std"] == "0.288675"
    assert v.details["samples"] == 2000 and v.details["alpha"] == "1e-06"
    assert v.figures == []  # the histogram is drawn for a failing check only


def test_uniform_on_a_given_interval(tmp_path: Path):
    uniform, _ = samples()
    pc = check(tmp_path, "{dist: uniform, low: -2, high: 3}")
    assert verdict(pc, uniform * 5 - 2).passed
    v = verdict(pc, uniform * 5 - 3)
    assert not v.passed
    assert v.message.startswith("f: ") and v.message.endswith(" samples lie outside [-2, 3)")
    [figure] = v.figures
    assert figure["kind"] == "histogram" and figure["samples"] == 2000
    assert figure["density"] == {"dist": "uniform", "low": -2.0, "high": 3.0}
    assert sum(figure["counts"]) == 2000 and len(figure["counts"]) == 30


def test_a_sample_at_the_upper_end_is_outside(tmp_path: Path):
    uniform, _ = samples()
    uniform[7] = 1.0
    assert verdict(check(tmp_path), uniform).message == "f: 1 of 2000 samples lie outside [0, 1)"


def test_uniform_samples_that_are_not_uniform(tmp_path: Path):
    uniform, _ = samples()
    v = verdict(check(tmp_path), uniform**2)  # inside [0, 1), piled up near 0
    assert not v.passed
    assert v.message.startswith("f: the samples do not look uniform on [0, 1): their mean is 0.3")
    assert "(expected 0.5 and 0.288675); a Kolmogorov-Smirnov test rejects them (p = " in v.message
    assert v.figures and v.details["p_value"] != "1"


def test_normal_with_mean_and_std(tmp_path: Path):
    _, normal = samples()
    pc = check(tmp_path, "{dist: normal, mean: 3, std: 2}")
    v = verdict(pc, normal * 2 + 3)
    assert v.passed, v.message
    assert "consistent with normal with mean 3 and std 2" in v.message
    v = verdict(pc, normal + 3)  # std 1, not 2
    assert not v.passed
    assert v.message.startswith("f: the samples do not look normal with mean 3 and std 2")
    assert v.figures[0]["density"] == {"dist": "normal", "mean": 3.0, "std": 2.0}


def test_standard_normal_by_default(tmp_path: Path):
    uniform, normal = samples()
    pc = check(tmp_path, "{dist: normal}")
    assert verdict(pc, normal).passed
    assert not verdict(pc, uniform).passed  # the typical mistake: rand for randn
    assert not verdict(pc, normal + 0.2).passed


def test_alpha_decides_how_strong_the_evidence_must_be(tmp_path: Path):
    _, normal = samples()
    slightly_off = normal * 1.07
    assert verdict(check(tmp_path, "{dist: normal}"), slightly_off).passed
    strict = check(tmp_path / "strict", "{dist: normal, alpha: 0.5}")
    v = verdict(strict, slightly_off)
    assert not v.passed and v.details["alpha"] == "0.5"


@pytest.mark.parametrize(
    "got, words",
    [
        (
            [0.5] * 30,
            "f: got a list of 30 items; expected a tensor of samples; its values are wrong too: "
            "the samples do not look uniform on [0, 1): their mean is 0.5 and std 0 (expected "
            "0.5 and 0.288675); a Kolmogorov-Smirnov test rejects them (p = 2.81275e-07)",
        ),
        (object(), "f: got an object of class builtins.object; expected a tensor of samples"),
        (
            torch.zeros(50, dtype=torch.int64),
            "f: got a int64 tensor of shape [50]; samples must be floating point; its values are "
            "wrong too: the samples do not look uniform on [0, 1): their mean is 0 and std 0 "
            "(expected 0.5 and 0.288675); a Kolmogorov-Smirnov test rejects them (p = 1.55055e-45)",
        ),
        (
            [0.5] * 10,
            "f: got a list of 10 items; expected a tensor of samples; its values are wrong too: "
            "got only 10 samples",
        ),
        (torch.rand(19), "f: got only 19 samples"),
        (
            torch.tensor([0.5] * 29 + [float("nan")]),
            "f: the samples contain NaN or infinite values",
        ),
        (
            torch.tensor([0.5] * 29 + [float("inf")]),
            "f: the samples contain NaN or infinite values",
        ),
    ],
)
def test_what_is_not_a_tensor_of_samples(tmp_path: Path, got: object, words: str):
    v = verdict(check(tmp_path), got)
    assert not v.passed and v.message == words


def test_samples_of_the_wrong_type_are_still_tested(tmp_path: Path):
    """A list of good samples, or float64 ones: the type is wrong, the values are right,
    and the message says both."""
    uniform, _ = samples()
    v = verdict(check(tmp_path), uniform.tolist())
    assert not v.passed
    assert v.message.startswith(
        "f: got a list of 2000 items; expected a tensor of samples; its values are right: "
        "2000 samples consistent with uniform on [0, 1)"
    )


def test_twenty_samples_are_enough_to_judge(tmp_path: Path):
    v = verdict(check(tmp_path), torch.linspace(0.01, 0.96, 20))
    assert v.passed and "20 samples" in v.message


def test_missing_output(tmp_path: Path):
    v = judge(check(tmp_path), {})
    assert not v.passed and v.message == "f: got a _Missing; expected a tensor of samples"


def test_output_option(tmp_path: Path):
    uniform, _ = samples()
    pc = plan_check(
        tmp_path,
        CHECK.replace("call: [[2000]]", "steps:\n  - call: f\n    as: s") + "with: {output: s}",
    )
    assert verdict(pc, uniform, name="s").passed
    assert not verdict(pc, uniform, name="result").passed


@pytest.mark.parametrize(
    "option, words",
    [
        ("{dist: poisson}", "key 'dist': expected one of uniform, normal, got 'poisson'"),
        ("{low: zero}", "key 'low': expected a number"),
        ("{alpha: .nan}", "key 'alpha': expected a finite number"),
        ("{mean: 0, sd: 1}", "key 'sd': unknown key"),
    ],
)
def test_options_are_validated_at_load(tmp_path: Path, option: str, words: str):
    with pytest.raises(ExerciseError, match=words):
        check(tmp_path, option)


# ------------------------------------------------------------------ found by mutation testing
@pytest.mark.parametrize(
    "lam, p",
    # Kolmogorov's distribution, from its published table: P(K >= lam).
    [(0.5, 0.9639), (1.0, 0.2700), (1.2238, 0.1000), (1.3581, 0.0500), (1.6276, 0.0100)],
)
def test_ks_pvalue_follows_kolmogorovs_table(lam: float, p: float):
    # With n = 100, Stephens' factor is 10 + 0.12 + 0.11 / 10 = 10.131.
    assert ks_pvalue(lam / 10.131, 100) == pytest.approx(p, abs=2e-4)


def test_ks_pvalue_of_a_perfect_fit_is_one():
    assert ks_pvalue(0.0, 100) == 1.0


def test_ks_statistic_by_hand():
    # Four samples against uniform [0, 1): the empirical CDF reaches 1 at 0.4, 0.6 above F.
    assert ks_statistic(torch.tensor([0.1, 0.2, 0.3, 0.4]), uniform_cdf(0.0, 1.0)) == (
        pytest.approx(0.6)
    )


def test_uniform_cdf_is_zero_below_and_one_above_the_interval():
    cdf = uniform_cdf(0.0, 2.0)
    assert cdf(torch.tensor([-1.0, 1.0, 3.0])).tolist() == [0.0, 0.5, 1.0]


def test_details_of_evenly_spread_samples(tmp_path: Path):
    # 0.01, 0.06, ..., 0.96: the empirical CDF is 0.04 above F at every sample, 0.01 below.
    v = verdict(check(tmp_path), torch.linspace(0.01, 0.96, 20, dtype=torch.float64))
    assert v.passed is True
    assert v.details["ks_statistic"] == "0.04" and v.details["p_value"] == "1"
    assert v.details["min"] == "0.01" and v.details["max"] == "0.96"
    assert v.details["mean"] == "0.485"


def test_a_sample_at_the_lower_end_is_inside(tmp_path: Path):
    uniform, _ = samples()
    uniform[3] = 0.0
    assert verdict(check(tmp_path), uniform).passed


def test_samples_outside_keep_their_details_and_a_titled_histogram(tmp_path: Path):
    got = torch.arange(20, dtype=torch.float64) / 20  # 0, 0.05, ..., 0.95
    got[19] = 1.0
    v = verdict(check(tmp_path), got)
    assert v.passed is False and v.message == "f: 1 of 20 samples lie outside [0, 1)"
    assert v.details["min"] == "0" and v.details["max"] == "1"
    assert v.details["mean"] == "0.4775"  # (0.05 * 171 + 1) / 20
    [figure] = v.figures
    assert figure["title"] == "f: your samples"
    assert (figure["low"], figure["high"]) == (0.0, 1.0)


def test_expected_std_of_a_uniform_interval(tmp_path: Path):
    uniform, _ = samples()
    v = verdict(check(tmp_path, "{dist: uniform, low: -2, high: 3}"), uniform * 5 - 2)
    assert v.details["expected_mean"] == "0.5"
    assert v.details["expected_std"] == "1.44338"  # 5 / sqrt(12)


def test_identical_samples_get_a_histogram_one_wide():
    h = histogram(torch.full((30,), 0.5, dtype=torch.float64))
    assert (h["low"], h["high"]) == (0.5, 1.5)
    assert h["counts"][0] == 30 and sum(h["counts"]) == 30


@pytest.mark.parametrize(
    "got",
    [object(), torch.zeros(50, dtype=torch.int64), torch.rand(19), torch.full((30,), math.nan)],
)
def test_a_refused_sample_is_a_failed_verdict(tmp_path: Path, got: object):
    assert verdict(check(tmp_path), got).passed is False


def test_a_rejected_sample_is_a_failed_verdict(tmp_path: Path):
    uniform, _ = samples()
    assert verdict(check(tmp_path), uniform**2).passed is False
