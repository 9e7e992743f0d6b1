"""The ``match`` judge on hand-made outputs: a check loaded from YAML, the student's and
the reference solution's values as the grader decodes them, and the verdict's words."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from judging import judge, plan_check, returned

from grader.course.schema import ExerciseError
from grader.grading.plan import PlannedCheck
from grader.judges import Verdict
from grader.judges.match import PICTURE_LIMIT

CHECK = """
judge: match
call: [{randn: [3]}]
"""
EXPECTED = torch.tensor([1.0, 2.0, 3.0])


def check(tmp_path: Path, extra: str = "") -> PlannedCheck:
    return plan_check(tmp_path, CHECK + extra)


def verdict(
    pc: PlannedCheck, got: object, expected: object = EXPECTED, name: str = "result"
) -> Verdict:
    return judge(pc, returned(**{name: got}), returned(**{name: expected}))


def test_the_same_tensor_passes(tmp_path: Path):
    v = verdict(check(tmp_path), EXPECTED.clone())
    assert v.passed and v.fraction is None
    assert v.message == "f returned a float32 tensor of shape [3], as expected"
    assert v.details == {
        "expected": "float32 tensor of shape [3]",
        "got": "float32 tensor of shape [3]",
    }


def test_default_tolerance(tmp_path: Path):
    pc = check(tmp_path)  # atol 1e-5, rtol 1e-4 unless the check says
    assert verdict(pc, EXPECTED + torch.tensor([0.0, 0.0, 2e-4])).passed
    assert not verdict(pc, EXPECTED + torch.tensor([0.0, 0.0, 5e-4])).passed


def test_atol_and_rtol_options(tmp_path: Path):
    pc = check(tmp_path, "with: {atol: 0.1, rtol: 0.0}")
    assert verdict(pc, EXPECTED + 0.09).passed
    v = verdict(pc, EXPECTED + torch.tensor([0.0, 0.11, 0.0]))
    assert not v.passed
    assert v.message == "f: values differ at 1 of 3 positions, e.g. at [1], where yours is 2.11"
    pc = plan_check(tmp_path / "r", CHECK + "with: {atol: 0.0, rtol: 0.1}")
    assert verdict(pc, EXPECTED * 1.09).passed
    assert not verdict(pc, EXPECTED * torch.tensor([1.0, 1.0, 1.11])).passed


def test_wrong_type_shape_dtype(tmp_path: Path):
    pc = check(tmp_path)
    assert verdict(pc, [1.0, 2.0, 3.0]).message == (
        "f: got a list of 3 items; expected a tensor; its values are right"
    )
    assert verdict(pc, torch.zeros(3, 1)).message == "f: shape is [3, 1]; expected [3]"
    assert verdict(pc, EXPECTED.double()).message == (
        "f: dtype is float64; expected float32; the values are right"
    )
    assert verdict(pc, torch.zeros(2, dtype=torch.int64)).message == (
        "f: shape is [2]; expected [3]; dtype is int64; expected float32"
    )


def test_nan_in_the_result(tmp_path: Path):
    v = verdict(check(tmp_path), torch.tensor([1.0, float("nan"), 3.0]))
    assert not v.passed
    assert v.message == (
        "f: contains 1 NaN value (the first at [1]), where every value should be a finite number"
    )
    assert v.details["non_finite"] == {"nan": 1, "inf": 0}


def test_missing_output(tmp_path: Path):
    pc = check(tmp_path)
    v = judge(pc, {}, returned(result=EXPECTED))
    assert not v.passed and v.message == "f: got a _Missing; expected a tensor"


def test_an_error_record_or_object_is_not_a_result(tmp_path: Path):
    pc = check(tmp_path)
    record = {"status": "error", "error": {"type": "RuntimeError", "message": "boom"}}
    assert verdict(pc, record).message == "f: got a dict of 2 items; expected a tensor"
    assert verdict(pc, object()).message == (
        "f: got an object of class builtins.object; expected a tensor"
    )


def test_expected_values_are_named_only_when_disclosed(tmp_path: Path):
    hidden = verdict(check(tmp_path), EXPECTED + 10)
    assert hidden.message == (
        "f: values differ at 3 of 3 positions, e.g. at [0], where yours is 11; "
        "every value is the expected one plus the same amount"
    )
    shown = verdict(plan_check(tmp_path / "d", CHECK + "disclose: [expected]"), EXPECTED + 10)
    assert shown.message == (
        "f: values differ at 3 of 3 positions, e.g. at [0]: expected 1, got 11; "
        "every value is the expected one plus 10"
    )
    assert shown.details["mismatches"][0] == {"index": [0], "got": "11", "expected": "1"}


def test_values_option_off_checks_the_kind_only(tmp_path: Path):
    pc = check(tmp_path, "with: {values: false}")
    assert verdict(pc, EXPECTED + 100).passed
    assert not verdict(pc, torch.zeros(4)).passed


def test_output_option_names_the_value(tmp_path: Path):
    pc = plan_check(
        tmp_path,
        """
        judge: match
        steps:
          - call: f
            args: [1]
            as: y
        with: {output: y}
    """,
    )
    assert pc.spec.keep == ["y"]
    assert verdict(pc, 2, 2, name="y").passed
    assert verdict(pc, 3, 2, name="y").message == "f: got 3, which is not the expected value"
    assert (
        judge(pc, returned(result=2), returned(y=2)).message
        == "f: got a _Missing; expected a Python int"
    )


def test_python_values(tmp_path: Path):
    pc = check(tmp_path, "disclose: [expected]")
    assert verdict(pc, {"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}).passed
    v = verdict(pc, {"a": 1, "b": [1, 3]}, {"a": 1, "b": [1, 2]})
    assert v.message == "f: result['b'][1]: got 3; expected 2"
    assert verdict(pc, 1, 1.0).message == (
        "f: got the int 1; expected a Python float; its value, 1, is right"
    )
    assert verdict(pc, 28.0, 27).message == (
        "f: got the float 28; expected a Python int; its value is wrong too: 28, "
        "where 27 is expected"
    )
    assert verdict(pc, "x", "x").message == "f returned the string 'x', as expected"


def test_at_most_three_problems_are_said(tmp_path: Path):
    v = verdict(check(tmp_path), [5, 6, 7, 8, 9], [0, 0, 0, 0, 0])
    assert v.message.count("got") == 3
    assert v.message.startswith("f: result[0]: got 5, which is not the expected value; result[1]")


# ------------------------------------------------------------------ picture: channels
IMAGE = torch.arange(12.0).reshape(3, 2, 2) / 12


def test_channels_picture_only_on_failure(tmp_path: Path):
    pc = check(tmp_path, "with: {picture: channels}")
    assert verdict(pc, IMAGE, IMAGE).figures == []
    v = verdict(pc, IMAGE.flip(0), IMAGE)
    assert not v.passed
    [figure] = v.figures
    assert figure["kind"] == "channels" and figure["labels"] == ["red", "green", "blue"]
    assert figure["title"] == "f: expected and your channels"
    assert figure["got"] == IMAGE.flip(0).double().round(decimals=3).tolist()
    assert figure["expected"] is None  # the expected image would show the hidden input


def test_channels_picture_shows_the_expected_image_when_disclosed(tmp_path: Path):
    pc = check(tmp_path, "with: {picture: channels}\ndisclose: [expected]")
    [figure] = verdict(pc, IMAGE.flip(0), IMAGE).figures
    assert figure["expected"] == IMAGE.double().round(decimals=3).tolist()


@pytest.mark.parametrize(
    "got",
    [
        torch.zeros(3, 4),  # not [C, H, W]
        torch.zeros(5, 2, 2),  # more than 4 channels
        torch.zeros(3, PICTURE_LIMIT + 1, 2),  # larger than a report shows
        torch.zeros(3, 0, 2),  # empty
        [1.0, 2.0],
    ],
)
def test_no_picture_of_what_is_not_a_small_image(tmp_path: Path, got: object):
    pc = check(tmp_path, "with: {picture: channels}")
    v = verdict(pc, got, IMAGE)
    assert not v.passed and v.figures == []


@pytest.mark.parametrize("shape", [(1, PICTURE_LIMIT, PICTURE_LIMIT), (4, 2, 2)])
def test_a_picture_at_the_size_limits_is_drawn(tmp_path: Path, shape: tuple[int, ...]):
    pc = check(tmp_path, "with: {picture: channels}")
    image = torch.zeros(shape)
    assert verdict(pc, image, image + 1).figures


@pytest.mark.parametrize(
    "option, words",
    [
        ("{picture: photo}", "key 'picture': expected one of channels, got 'photo'"),
        ("{atol: small}", "key 'atol': expected a number, got 'small'"),
        ("{values: 1}", "key 'values': expected true or false, got 1"),
        ("{output: 3}", "key 'output': expected text, got 3"),
        ("{tolerance: 1}", "key 'tolerance': unknown key in 'with'"),
    ],
)
def test_options_are_validated_at_load(tmp_path: Path, option: str, words: str):
    with pytest.raises(ExerciseError, match=words):
        check(tmp_path, f"with: {option}")


# ------------------------------------------------------------------ found by mutation testing
def test_no_picture_unless_the_check_asks_for_one(tmp_path: Path):
    v = verdict(check(tmp_path), IMAGE.flip(0), IMAGE)
    assert v.passed is False and v.figures == []


def test_the_picture_shows_the_output_the_check_names(tmp_path: Path):
    pc = plan_check(
        tmp_path,
        """
        judge: match
        steps:
          - call: f
            args: [1]
            as: y
        with: {output: y, picture: channels}
        disclose: [expected]
    """,
    )
    image = torch.tensor([[[0.5]], [[0.25]], [[0.125]]])
    [figure] = judge(pc, returned(y=image * 2), returned(y=image)).figures
    assert figure["got"] == [[[1.0]], [[0.5]], [[0.25]]]
    assert figure["expected"] == [[[0.5]], [[0.25]], [[0.125]]]


def test_ignore_dtype_leaves_the_dtype_to_another_check(tmp_path: Path):
    pc = check(tmp_path, "with: {ignore: [dtype]}")
    v = verdict(pc, EXPECTED.double())
    assert v.passed
    assert v.message == (
        "f returned a float64 tensor of shape [3], as expected apart from its dtype, "
        "which another check judges"
    )
    v = verdict(pc, EXPECTED.double() + 1)
    assert not v.passed and v.message.startswith("f: values differ at 3 of 3 positions")
    assert "dtype" not in v.message
    # Without the option, the dtype is named.
    assert not verdict(check(tmp_path / "strict"), EXPECTED.double()).passed


def test_ignore_scale_judges_values_up_to_one_positive_factor(tmp_path: Path):
    """An image left in 0-255 has its channels right: the check of the channels passes,
    says so, and leaves the scale to the check that names it."""
    pc = check(tmp_path, "with: {ignore: [scale]}")
    v = verdict(pc, EXPECTED * 255)
    assert v.passed
    assert v.message == (
        "f returned a float32 tensor of shape [3], as expected apart from its scale "
        "(the expected values times 255), which another check judges"
    )
    assert v.details["scale"] == "the expected values times 255"
    # Another layout is still wrong, at any scale; so are a negative factor and zeros.
    for wrong in (EXPECTED.flip(0) * 255, EXPECTED * -2, torch.zeros(3)):
        assert not verdict(pc, wrong).passed
    v = verdict(pc, EXPECTED.flip(0) * 255)
    assert v.message.startswith("f: values differ at 3 of 3 positions")
    # Without the option, the factor is a mistake of this check.
    assert not verdict(check(tmp_path / "strict"), EXPECTED * 255).passed


def test_ignore_takes_only_known_words(tmp_path: Path):
    with pytest.raises(ExerciseError, match=r"key 'ignore': expected a list of dtype, scale"):
        check(tmp_path, "with: {ignore: [shape]}")
    with pytest.raises(ExerciseError, match=r"key 'ignore': expected a list, got 'dtype'"):
        check(tmp_path / "b", "with: {ignore: dtype}")


def test_ignore_type_compares_a_number_whatever_holds_it(tmp_path: Path):
    pc = check(tmp_path, "with: {ignore: [type]}")
    v = verdict(pc, torch.tensor(6.0), 6.0)
    assert v.passed
    assert v.message == (
        "f returned a float32 tensor of shape [], as expected apart from its type "
        "(a float32 tensor), which another check judges"
    )
    assert verdict(pc, 6, 6.0).passed
    v = verdict(pc, torch.tensor(7.0), 6.0)
    assert not v.passed and v.message == "f: got 7, which is not the expected value"
    # A value that is not one number is still judged on its type.
    v = verdict(pc, torch.tensor([6.0, 6.0]), 6.0)
    assert not v.passed and v.message.startswith("f: got a float32 tensor of shape [2]")
    assert verdict(pc, 6.0, 6.0).message == "f returned the float 6, as expected"


def test_ignore_type_compares_a_list_with_a_tensor(tmp_path: Path):
    ids = torch.tensor([1, 2, 0])
    pc = check(tmp_path, "with: {ignore: [type]}")
    v = verdict(pc, [1, 2, 0], ids)
    assert v.passed
    assert v.message == (
        "f returned a list of 3 items, as expected apart from its type (a list of 3 items), "
        "which another check judges"
    )
    v = verdict(pc, [1, 2, 5], ids)
    assert not v.passed and v.message.startswith("f: values differ at 1 of 3 positions")
    # 1.5 is no int64: the list is compared as float64, and the dtype is named.
    v = verdict(pc, [1.5, 2, 0], ids)
    assert not v.passed and v.message.startswith("f: dtype is float64; expected int64")
    # An empty list is an empty tensor of any dtype.
    assert verdict(pc, [], torch.tensor([], dtype=torch.int64)).passed
    # Text is not numbers: the type is named as ever.
    assert verdict(pc, "1 2 0", ids).message == "f: got the string '1 2 0'; expected a tensor"
