"""The ``autograd`` judge on hand-made outputs: the gradient is compared with the
reference solution's, and the inputs named in ``unchanged`` must come back as they went
in (same values, no requires_grad, no .grad)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from judging import judge, plan_check, returned

from grader.course.schema import ExerciseError
from grader.grading.plan import PlannedCheck
from grader.judges import Verdict

CHECK = """
judge: autograd
steps:
  - bind: {randn: [3]}
    as: point
  - call: f
    args: [{ref: point}]
    as: result
keep: [result, point]
"""


def check(tmp_path: Path, options: str = "{unchanged: [point]}") -> PlannedCheck:
    return plan_check(tmp_path, CHECK + f"with: {options}")


def gradient(pc: PlannedCheck) -> torch.Tensor:
    return 2 * pc.bound["point"]  # d/dx of sum(x ** 2)


def verdict(
    pc: PlannedCheck, got: object, point: object = None, expected: object = None
) -> Verdict:
    point = pc.bound["point"].clone() if point is None else point
    expected = gradient(pc) if expected is None else expected
    return judge(pc, returned(result=got, point=point), returned(result=expected))


def test_the_bound_point_is_what_the_judge_compares_with(tmp_path: Path):
    pc = check(tmp_path)
    assert isinstance(pc.bound["point"], torch.Tensor) and pc.bound["point"].shape == (3,)


def test_the_right_gradient_passes(tmp_path: Path):
    pc = check(tmp_path)
    v = verdict(pc, gradient(pc))
    assert v.passed
    assert v.message == "f returned a float32 tensor of shape [3] with the right gradient"


def test_a_gradient_that_still_requires_grad(tmp_path: Path):
    pc = check(tmp_path)
    v = verdict(pc, gradient(pc).requires_grad_(True))
    assert not v.passed
    assert v.message == "f: the returned gradient still requires grad; return it detached"


def test_a_wrong_gradient(tmp_path: Path):
    pc = check(tmp_path)
    v = verdict(pc, pc.bound["point"])  # forgot the factor 2
    assert not v.passed
    assert v.message.startswith(
        "f: values differ at 3 of 3 positions, e.g. at [0], where yours is "
    )
    assert v.message.endswith("; every value is the expected one times the same factor")


def test_wrong_shape_dtype_type_and_nan(tmp_path: Path):
    pc = check(tmp_path)
    assert verdict(pc, gradient(pc)[:2]).message == "f: shape is [2]; expected [3]"
    assert verdict(pc, gradient(pc).double()).message == (
        "f: dtype is float64; expected float32; the values are right"
    )
    assert verdict(pc, 1.5).message == "f: got the float 1.5; expected a tensor"
    wrong = (gradient(pc) + 1).double()
    assert verdict(pc, wrong).message.startswith(
        "f: dtype is float64; expected float32; values differ at 3 of 3 positions"
    )
    nan = gradient(pc)
    nan[2] = float("nan")
    assert verdict(pc, nan).message == (
        "f: contains 1 NaN value (the first at [2]), where every value should be a finite number"
    )


def test_tolerance_options(tmp_path: Path):
    pc = check(tmp_path, "{unchanged: [point], atol: 0.01, rtol: 0}")
    assert verdict(pc, gradient(pc) + 0.009).passed
    assert not verdict(pc, gradient(pc) + 0.011).passed
    default = check(tmp_path / "default")
    assert not verdict(default, gradient(default) + 0.009).passed


def test_the_callers_point_with_requires_grad(tmp_path: Path):
    pc = check(tmp_path)
    v = verdict(pc, gradient(pc), point=pc.bound["point"].clone().requires_grad_(True))
    assert not v.passed
    assert v.message == (
        "f: the caller's 'point' has requires_grad or a .grad attached afterwards; "
        "work on a detached copy (e.g. point.detach().clone().requires_grad_())"
    )


def test_the_callers_point_with_a_grad(tmp_path: Path):
    pc = check(tmp_path)
    point = pc.bound["point"].clone()
    point.grad = torch.ones(3)
    v = verdict(pc, gradient(pc), point=point)
    assert not v.passed and "has requires_grad or a .grad attached afterwards" in v.message


def test_the_callers_point_changed(tmp_path: Path):
    pc = check(tmp_path)
    assert verdict(pc, gradient(pc), point=pc.bound["point"] + 1).message == (
        "f: the caller's 'point' was changed"
    )
    assert verdict(pc, gradient(pc), point=torch.zeros(4)).message == (
        "f: the caller's 'point' was changed"
    )


def test_both_problems_are_said(tmp_path: Path):
    pc = check(tmp_path)
    v = verdict(pc, gradient(pc) * 3, point=pc.bound["point"] + 1)
    assert v.message.startswith("f: values differ at 3 of 3 positions")
    assert v.message.endswith("; the caller's 'point' was changed")


def test_without_unchanged_the_point_is_not_looked_at(tmp_path: Path):
    pc = check(tmp_path, "{}")
    assert verdict(pc, gradient(pc), point=pc.bound["point"] + 1).passed


def test_an_unchanged_name_not_kept_or_not_a_tensor_is_skipped(tmp_path: Path):
    pc = check(tmp_path)
    v = judge(pc, returned(result=gradient(pc)), returned(result=gradient(pc)))
    assert v.passed
    v = judge(pc, returned(result=gradient(pc), point=[1.0]), returned(result=gradient(pc)))
    assert v.passed


def test_missing_output(tmp_path: Path):
    pc = check(tmp_path)
    v = judge(pc, returned(point=pc.bound["point"]), returned(result=gradient(pc)))
    assert v.message == "f: got a _Missing; expected a tensor"


def test_output_option(tmp_path: Path):
    pc = plan_check(
        tmp_path,
        CHECK.replace("as: result", "as: g").replace("[result, point]", "[g, point]")
        + "with: {output: g}",
    )
    good = judge(pc, returned(g=gradient(pc), point=pc.bound["point"]), returned(g=gradient(pc)))
    assert good.passed
    bad = judge(pc, returned(g=gradient(pc) + 1, point=pc.bound["point"]), returned(g=gradient(pc)))
    assert not bad.passed


@pytest.mark.parametrize(
    "option, words",
    [
        ("{unchanged: point}", "key 'unchanged': expected a list, got 'point'"),
        ("{rtol: [1]}", "key 'rtol': expected a number, got a list"),
        ("{values: false}", "key 'values': unknown key"),
    ],
)
def test_options_are_validated_at_load(tmp_path: Path, option: str, words: str):
    with pytest.raises(ExerciseError, match=words):
        check(tmp_path, option)


# ------------------------------------------------------------------ found by mutation testing
def test_a_skipped_name_does_not_end_the_look_at_the_others(tmp_path: Path):
    # Loading refuses a name no step binds; the judge still copes with one it lacks.
    pc = check(tmp_path)
    pc.spec.options["unchanged"] = ["nothing", "point"]
    v = verdict(pc, gradient(pc), point=pc.bound["point"] + 1)
    assert v.passed is False and v.message == "f: the caller's 'point' was changed"


def test_at_most_three_problems_are_said(tmp_path: Path):
    pc = check(tmp_path)
    got = torch.zeros(4, dtype=torch.float64).requires_grad_(True)
    v = verdict(pc, got, point=pc.bound["point"] + 1)
    assert v.message == (
        "f: shape is [4]; expected [3]; dtype is float64; expected float32; "
        "the returned gradient still requires grad; return it detached"
    )


def test_the_comparison_details_come_with_either_verdict(tmp_path: Path):
    pc = check(tmp_path)
    shapes = {"expected": "float32 tensor of shape [3]", "got": "float32 tensor of shape [3]"}
    assert verdict(pc, gradient(pc)).details == shapes
    v = verdict(pc, gradient(pc) + 1)
    assert v.passed is False
    assert {k: v.details[k] for k in shapes} == shapes and len(v.details["mismatches"]) == 3
