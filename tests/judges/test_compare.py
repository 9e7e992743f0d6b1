"""grader/judges/compare.py, the comparison every comparing judge uses: on hand-made
decoded values, each typical wrong answer gets its own words, values within the
tolerance pass, and with ``reveal`` off no expected value is named."""

from __future__ import annotations

import math

import pytest
import torch
from judging import returned

from grader.judges.compare import (
    describe_value,
    diagnosis,
    fmt_number,
    tensor_problems,
    value_problems,
)
from grader.sandbox.protocol.values import ModuleValue, OpaqueValue, TensorValue


def tv(data: torch.Tensor | list, **kw: object) -> TensorValue:
    return TensorValue(torch.as_tensor(data), **kw)


# ------------------------------------------------------------------ describe_value, fmt_number
@pytest.mark.parametrize(
    "value, words",
    [
        (tv(torch.zeros(2, 3)), "a float32 tensor of shape [2, 3]"),
        (
            tv(torch.zeros(2, dtype=torch.int64), cls="mine.T", exact=False),
            "a int64 mine.T (a torch.Tensor subclass) of shape [2]",
        ),
        (ModuleValue("torch.nn.Linear", True, [], []), "a module of class torch.nn.Linear"),
        (OpaqueValue("numpy.ndarray", "array([1])"), "an object of class numpy.ndarray"),
        (None, "None"),
        (True, "the bool True"),
        (3, "the int 3"),
        (0.5, "the float 0.5"),
        ("x" * 50, f"the string {'x' * 40!r}"),
        (torch.Size([2, 3]), "torch.Size([2, 3])"),
        ((1, 2), "a tuple of 2 items"),
        ([1, 2, 3], "a list of 3 items"),
        ([2, 3], "a list of 2 items"),  # a list is never called torch.Size
        ({"a": 1}, "a dict of 1 items"),
        (b"xy", "a bytes"),
    ],
)
def test_describe(value: object, words: str):
    assert describe_value(value) == words


def test_describe_decoded_values():
    got = returned(t=torch.ones(4, dtype=torch.float64), s=torch.Size([4]), o=object())
    assert describe_value(got["t"]) == "a float64 tensor of shape [4]"
    assert describe_value(got["s"]) == "torch.Size([4])"
    assert describe_value(got["o"]) == "an object of class builtins.object"


@pytest.mark.parametrize(
    "x, text",
    [
        (True, "True"),
        (7, "7"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (0.1234567, "0.123457"),
        (1e-9, "1e-09"),
    ],
)
def test_fmt_number(x: float, text: str):
    assert fmt_number(x) == text


# ------------------------------------------------------------------ tensors
def problems(actual: object, expected: object, **kw: object) -> list[str]:
    return value_problems(actual, expected, **kw)[0]


def test_equal_tensors_pass_with_details():
    found, details = tensor_problems(tv([1.0, 2.0]), torch.tensor([1.0, 2.0]), atol=0.0, rtol=0.0)
    assert found == []
    assert details == {
        "expected": "float32 tensor of shape [2]",
        "got": "float32 tensor of shape [2]",
    }


def test_values_within_the_tolerance_pass_and_just_outside_fail():
    expected = torch.tensor([1.0, 2.0, 3.0])
    assert problems(tv([1.0 + 0.9e-3, 2.0, 3.0]), expected, atol=1e-3, rtol=0.0) == []
    assert problems(tv([1.0 + 1.1e-3, 2.0, 3.0]), expected, atol=1e-3, rtol=0.0)
    # rtol scales with the expected value: 3.0 * 1e-3 = 3e-3.
    assert problems(tv([1.0, 2.0, 3.0025]), expected, atol=0.0, rtol=1e-3) == []
    assert problems(tv([1.0, 2.0, 3.0035]), expected, atol=0.0, rtol=1e-3)


def test_default_tolerance_of_value_problems():
    assert problems(tv([1.0 + 5e-7]), torch.tensor([1.0])) == []
    assert problems(tv([1.0 + 5e-5]), torch.tensor([1.0]))


def test_not_a_tensor():
    found, details = tensor_problems([1.0, 2.0], torch.zeros(2), atol=0, rtol=0)
    assert found == ["got a list of 2 items; expected a tensor; its values are wrong too"]
    assert details == {"expected": "float32 tensor of shape [2]"}
    found, _ = tensor_problems([0.0, 0.0], torch.zeros(2), atol=0, rtol=0)
    assert found == ["got a list of 2 items; expected a tensor; its values are right"]
    # Values that cannot be laid side by side are not compared: nothing is said of them.
    assert problems([0.0, 0.0, 0.0], torch.zeros(2)) == ["got a list of 3 items; expected a tensor"]
    assert problems([[0.0], [0.0, 1.0]], torch.zeros(2)) == [
        "got a list of 2 items; expected a tensor"
    ]
    assert problems("00", torch.zeros(2)) == ["got the string '00'; expected a tensor"]
    assert problems(0.0, torch.tensor(0.0)) == [
        "got the float 0; expected a tensor; its values are right"
    ]
    assert problems(None, torch.zeros(2), where="out") == ["out: got None; expected a tensor"]


def test_wrong_shape_and_wrong_dtype_are_both_named_and_values_are_not_compared():
    found, details = tensor_problems(
        tv(torch.zeros(3, 2, dtype=torch.float64)), torch.ones(2, 3), atol=0, rtol=0
    )
    assert found == ["shape is [3, 2]; expected [2, 3]", "dtype is float64; expected float32"]
    assert details["got"] == "float64 tensor of shape [3, 2]" and "mismatches" not in details


def test_a_tensor_subclass_is_named():
    found = problems(tv([1.0], cls="mine.Special", exact=False), torch.tensor([1.0]))
    assert found == [
        "got a subclass of torch.Tensor (mine.Special); return a plain torch.Tensor; "
        "the value is right"
    ]
    found = problems(tv([2.0], cls="mine.Special", exact=False), torch.tensor([1.0]))
    assert found[0] == "got a subclass of torch.Tensor (mine.Special); return a plain torch.Tensor"
    assert found[1].startswith("values differ at 1 of 1 positions")


def test_nan_only_tensor_is_non_finite():
    found, details = tensor_problems(tv([float("nan")] * 2), torch.zeros(2), atol=1, rtol=1)
    assert found == [
        "contains 2 NaN values (the first at [0]), where every value should be a finite number"
    ]
    assert details["non_finite"] == {"nan": 2, "inf": 0}
    assert details["first_non_finite_at"] == [0]


def test_one_infinite_value_is_named_with_its_place():
    found, details = tensor_problems(
        tv([[0.0, 0.0], [0.0, float("-inf")]]), torch.zeros(2, 2), atol=1, rtol=1, where="y"
    )
    assert found == [
        "y: contains 1 infinite value (the first at [1, 1]), where every value "
        "should be a finite number"
    ]
    assert details["non_finite"] == {"nan": 0, "inf": 1}


def test_nan_and_inf_together():
    found = problems(tv([float("nan"), float("inf"), 1.0]), torch.zeros(3))
    assert found[0].startswith("contains 1 NaN and 1 infinite values (the first at [0])")


def test_values_off_are_shown_with_expected_when_revealed():
    found, details = tensor_problems(
        tv([1.0, 2.0, 3.0, 9.0]), torch.tensor([1.0, 2.0, 3.0, 4.0]), atol=1e-6, rtol=0
    )
    assert found == ["values differ at 1 of 4 positions, e.g. at [3]: expected 4, got 9"]
    assert details["mismatches"] == [{"index": [3], "got": "9", "expected": "4"}]


def test_values_off_do_not_show_expected_when_hidden():
    found, details = tensor_problems(
        tv([1.0, 2.0, 3.0, 9.0]),
        torch.tensor([1.0, 2.0, 3.0, 7.0]),
        atol=1e-6,
        rtol=0,
        reveal=False,
    )
    assert found == ["values differ at 1 of 4 positions, e.g. at [3], where yours is 9"]
    assert details["mismatches"] == [{"index": [3], "got": "9"}]
    assert "7" not in found[0]


def test_at_most_three_mismatches_are_listed():
    _, details = tensor_problems(tv(torch.arange(10.0)), torch.zeros(10) - 1, atol=0, rtol=0)
    assert [m["index"] for m in details["mismatches"]] == [[0], [1], [2]]


def test_values_false_compares_type_shape_and_dtype_only():
    assert problems(tv([5.0, 6.0]), torch.zeros(2), values=False) == []
    assert problems(tv([5.0]), torch.zeros(2), values=False) == ["shape is [1]; expected [2]"]


def test_integer_and_bool_tensors_are_compared_exactly():
    assert problems(tv([1, 2]), torch.tensor([1, 2])) == []
    # Integers are equal or not, whatever the tolerance.
    assert problems(tv([1, 3]), torch.tensor([1, 2]), atol=5, rtol=5)
    found = problems(tv([1, 3, 3]), torch.tensor([1, 2, 5]))
    assert found == ["values differ at 2 of 3 positions, e.g. at [1]: expected 2, got 3"]
    assert problems(tv([True, False]), torch.tensor([True, False])) == []
    found = problems(tv([True, True]), torch.tensor([True, False]), atol=5)
    assert found == ["values differ at 1 of 2 positions, e.g. at [1]: expected False, got True"]


def test_expected_may_be_a_decoded_tensor_value():
    assert problems(tv([1.0]), tv([1.0])) == []
    assert problems(tv([2.0]), tv([1.0]))


# ------------------------------------------------------------------ diagnosis
def test_permuted_values_are_recognised():
    expected = torch.arange(6.0).reshape(2, 3)
    found = problems(tv(expected.t().reshape(2, 3)), expected)
    assert found[0].endswith(
        "; your result holds the expected values, but at other positions "
        "(are axes swapped, or reshaped where they should be permuted?)"
    )


def test_a_common_factor_is_named_only_when_revealed():
    expected = torch.tensor([1.0, 2.0, 3.0, 5.0])
    found = problems(tv(expected / 256), expected)
    assert found[0].endswith("; every value is the expected one times 0.00390625")
    hidden = problems(tv(expected / 256), expected, reveal=False)
    assert hidden[0].endswith("; every value is the expected one times the same factor")


def test_a_common_offset_is_named_only_when_revealed():
    expected = torch.tensor([1.0, 2.0, 4.0, 8.0])
    assert problems(tv(expected + 0.5), expected)[0].endswith(
        "; every value is the expected one plus 0.5"
    )
    assert problems(tv(expected - 2), expected)[0].endswith(
        "; every value is the expected one minus 2"
    )
    assert problems(tv(expected - 2), expected, reveal=False)[0].endswith(
        "; every value is the expected one plus the same amount"
    )


def test_a_few_wrong_values_among_many_right_ones():
    expected = torch.arange(1.0, 21.0)
    actual = expected.clone()
    actual[4] = -7.0
    assert problems(tv(actual), expected)[0].endswith("; the other values are right")
    # One wrong in ten is "a few"; two in ten, or four wrong in all, are not.
    assert problems(tv(actual[:10]), expected[:10])[0].endswith("; the other values are right")
    actual[7] = -9.0
    assert not problems(tv(actual[:10]), expected[:10])[0].endswith("right")
    many = expected.clone()
    many[:4] = torch.tensor([-1.0, -5.0, -2.0, -8.0])
    assert not problems(tv(many), expected)[0].endswith("right")


def test_no_diagnosis_for_unrelated_values():
    expected = torch.tensor([1.0, 2.0, 3.0, 4.0])
    found = problems(tv([4.0, -1.0, 0.0, 7.5]), expected)
    assert found == ["values differ at 4 of 4 positions, e.g. at [0]: expected 1, got 4"]


def test_diagnosis_needs_two_values():
    one = torch.tensor([2.0])
    assert diagnosis(one, one * 3, torch.tensor([False]), rtol=0, atol=0) == ""


# ------------------------------------------------------------------ python values
@pytest.mark.parametrize(
    "actual, expected, reveal, message",
    [
        ("b", "a", True, "got the string 'b'; expected the string 'a'"),
        ("b", "a", False, "got the string 'b', which is not the expected value"),
        (1, "a", False, "got the int 1; expected a str"),
        (None, True, True, "got None; expected the bool True"),
        (1, True, True, "got the int 1; expected the bool True"),
        (False, True, False, "got the bool False, which is not the expected value"),
        (1, None, False, "got the int 1; expected None"),
    ],
)
def test_text_bool_and_none(actual: object, expected: object, reveal: bool, message: str):
    assert problems(actual, expected, reveal=reveal) == [message]
    assert problems(expected, expected, reveal=reveal) == []


def test_numbers_within_and_outside_the_tolerance():
    assert problems(1.0 + 5e-7, 1.0) == []
    assert problems(1.01, 1.0, atol=0.02) == []
    assert problems(1.01, 1.0) == ["got 1.01; expected 1"]
    assert problems(1.01, 1.0, reveal=False) == ["got 1.01, which is not the expected value"]
    assert problems(100.5, 100.0, atol=0.0, rtol=0.01) == []
    assert problems(7, 7) == [] and problems(8, 7) == ["got 8; expected 7"]
    assert problems(8.0, 7.0, values=False) == []


def test_numbers_of_the_wrong_type():
    # The type is named first, and the value is still compared: the student learns both.
    assert problems(1, 1.0) == ["got the int 1; expected a Python float; its value, 1, is right"]
    assert problems(1.0, 1) == ["got the float 1; expected a Python int; its value, 1, is right"]
    assert problems(28.0, 27) == [
        "got the float 28; expected a Python int; its value is wrong too: 28, where 27 is expected"
    ]
    assert problems(28.0, 27, reveal=False) == [
        "got the float 28; expected a Python int; its value, 28, is wrong too"
    ]
    assert problems(28.0, 27, values=False) == ["got the float 28; expected a Python int"]
    # A bool is not a count: no value is read into it.
    assert problems(True, 1) == ["got the bool True; expected a Python int"]
    assert problems(tv(1.0), 1.0) == [
        "got a float32 tensor of shape []; expected a Python float "
        "(use .item() to turn a one-element tensor into a number); its value, 1, is right"
    ]
    assert problems(tv([2.0]), 1.0) == [
        "got a float32 tensor of shape [1]; expected a Python float "
        "(use .item() to turn a one-element tensor into a number); its value is wrong too: 2, "
        "where 1 is expected"
    ]
    # Several values, text or nothing: only the type can be said.
    assert problems(tv([1.0, 1.0]), 1.0)[0].endswith("into a number)")
    assert problems("1", 1) == ["got the string '1'; expected a Python int"]
    assert problems(None, 1.0) == ["got None; expected a Python float"]


def test_a_tensor_where_a_list_is_expected_gets_its_values_compared():
    assert problems(tv([1.0, 2.0]), [1.0, 2.0]) == [
        "got a float32 tensor of shape [2]; expected a list; its values are right"
    ]
    assert problems(tv([1.0, 3.0]), [1.0, 2.0]) == [
        "got a float32 tensor of shape [2]; expected a list; its values are wrong too"
    ]
    assert problems(tv([1.0, 2.0]), ["a", "b"]) == [
        "got a float32 tensor of shape [2]; expected a list"
    ]


def test_a_nan_number_is_not_the_expected_one():
    assert problems(math.nan, 1.0) == ["got nan; expected 1"]


def test_sequences():
    assert problems([1, 2.0], [1, 2.0]) == []
    assert problems((1, 2.0), [1, 2.0]) == []  # a tuple for a list is fine
    assert problems([1], [1, 2]) == ["got 1 items; expected 2"]
    assert problems({"a": 1}, [1]) == ["got a dict of 1 items; expected a list"]
    assert problems([1, 3, 4], [1, 2, 3]) == [
        "result[1]: got 3; expected 2",
        "result[2]: got 4; expected 3",
    ]
    assert problems([[1, 2]], [[1, 5]], where="out") == ["out[0][1]: got 2; expected 5"]


def test_sequences_of_tensors_keep_per_item_details():
    found, details = value_problems(
        [tv([1.0]), tv([5.0])], [torch.tensor([1.0]), torch.tensor([2.0])]
    )
    assert found == ["result[1]: values differ at 1 of 1 positions, e.g. at [0]: expected 2, got 5"]
    assert set(details) == {"item 0", "item 1"} and "mismatches" in details["item 1"]


def test_dicts():
    assert problems({"a": 1, "b": 2}, {"a": 1, "b": 2}) == []
    assert problems([1], {"a": 1}) == ["got a list of 1 items; expected a dict"]
    assert problems({"a": 1, "c": 3}, {"a": 1, "b": 2}) == [
        "missing keys 'b'",
        "unexpected keys 'c'",
    ]
    assert problems({"a": 1}, {"a": 1, "b": 2, "c": 3}, reveal=False) == [
        "2 expected keys are missing"
    ]
    assert problems({}, {"b": 2}, reveal=False) == ["1 expected key is missing"]
    assert problems({"a": 5}, {"a": 1}) == ["result['a']: got 5; expected 1"]


def test_many_missing_keys_are_counted():
    expected = {k: 0 for k in "abcde"}
    assert problems({}, expected) == ["missing keys 'a', 'b', 'c' and 2 more"]


def test_dict_problems_are_capped_at_six():
    expected = {k: 0 for k in "abcdefgh"}
    assert len(problems({k: 1 for k in "abcdefgh"}, expected)) == 6


def test_an_expected_value_of_an_unknown_kind():
    assert problems(1, OpaqueValue("x.Y", "y")) == ["cannot compare with an object of class x.Y"]


def test_an_error_record_or_object_where_a_tensor_is_expected():
    record = returned(result={"status": "error", "error": {"type": "ValueError"}})["result"]
    assert problems(record, torch.zeros(2)) == ["got a dict of 2 items; expected a tensor"]
    obj = returned(result=object())["result"]
    assert problems(obj, torch.zeros(2)) == [
        "got an object of class builtins.object; expected a tensor"
    ]


# ------------------------------------------------------------------ found by mutation testing
def test_exactly_three_missing_keys_are_all_named_with_no_count():
    assert problems({}, {"a": 0, "b": 0, "c": 0}) == ["missing keys 'a', 'b', 'c'"]


def test_items_of_sequences_and_dicts_keep_the_tolerance_and_the_flags():
    # Each item is compared with the caller's atol, rtol, values and reveal, not the defaults.
    assert problems([1.01], [1.0], atol=0.02) == []
    assert problems([100.5], [100.0], atol=0.0, rtol=0.01) == []
    assert problems([8.0], [7.0], values=False) == []
    assert problems(["b"], ["a"], reveal=False) == [
        "result[0]: got the string 'b', which is not the expected value"
    ]
    assert problems({"k": 1.01}, {"k": 1.0}, atol=0.02) == []
    assert problems({"k": 100.5}, {"k": 100.0}, atol=0.0, rtol=0.01) == []
    assert problems({"k": 8.0}, {"k": 7.0}, values=False) == []
    assert problems({"k": "b"}, {"k": "a"}, reveal=False) == [
        "result['k']: got the string 'b', which is not the expected value"
    ]


def test_diagnosis_names_numbers_unless_told_not_to():
    e = torch.tensor([1.0, 2.0, 3.0])
    a = e * 2
    close = torch.zeros(3, dtype=torch.bool)
    assert diagnosis(a, e, close, rtol=0, atol=0) == "; every value is the expected one times 2"


def test_two_values_are_enough_for_a_diagnosis():
    e = torch.tensor([1.0, 2.0])
    close = torch.zeros(2, dtype=torch.bool)
    assert diagnosis(e.flip(0), e, close, rtol=0, atol=0).startswith(
        "; your result holds the expected values, but at other positions"
    )


def test_two_nonzero_expected_values_are_enough_for_a_factor():
    e = torch.tensor([0.0, 1.0, 2.0])
    close = torch.tensor([True, False, False])
    assert diagnosis(e * 4, e, close, rtol=0, atol=1e-6) == (
        "; every value is the expected one times 4"
    )


def test_values_within_atol_of_zero_give_no_factor():
    # Only 5 is clearly non-zero (atol 1): one ratio is no evidence of a common factor.
    e = torch.tensor([1.0, 1.0, 5.0])
    close = torch.zeros(3, dtype=torch.bool)
    assert diagnosis(e * 3, e, close, rtol=0, atol=1) == ""


def test_all_zeros_are_not_the_expected_values_times_zero():
    assert problems(tv(torch.zeros(4)), torch.tensor([1.0, 2.0, 3.0, 4.0])) == [
        "values differ at 4 of 4 positions, e.g. at [0]: expected 1, got 0"
    ]


def test_diagnosis_uses_the_given_tolerances():
    close = torch.zeros(4, dtype=torch.bool)
    e = torch.tensor([10.0, 20.0, 30.0, 40.0])
    # Permuted, each value 0.5 % off: within rtol 1 %, or within atol 0.5.
    permuted = torch.tensor([20.1, 10.05, 40.2, 30.15])
    for tol in ({"rtol": 0.01, "atol": 0.0}, {"rtol": 0.0, "atol": 0.5}):
        assert diagnosis(permuted, e, close, **tol).startswith("; your result holds the expected")
    # Three times, 0.5 % off.
    tripled = e * 3 * 1.005
    assert diagnosis(tripled, e, close, rtol=0.01, atol=0.0) == (
        "; every value is the expected one times 3.015"
    )
    # Three times plus 0.5: the ratios' median is 90.5 / 30, and each value within 1 of it.
    assert diagnosis(e * 3 + 0.5, e, close, rtol=0.0, atol=1.0) == (
        "; every value is the expected one times 3.01667"
    )
    # Plus about 100: the differences 99.4, 99.5, 100.5, 100.6 have the median 99.5 (torch
    # takes the lower middle value), and each is within 1 % or within 1.2 of it.
    shifted = e + 100 + torch.tensor([0.5, -0.5, 0.6, -0.6])
    plus = "; every value is the expected one plus 99.5"
    assert diagnosis(shifted, e, close, rtol=0.01, atol=0.0) == plus
    assert diagnosis(shifted, e, close, rtol=0.0, atol=1.2) == plus


def test_up_to_three_wrong_values_are_a_few():
    expected = torch.arange(1.0, 41.0)
    actual = expected.clone()
    actual[[3, 17, 29]] = torch.tensor([-7.0, -50.0, 0.5])
    assert problems(tv(actual), expected)[0].endswith("; the other values are right")
    actual[35] = -3.0
    assert not problems(tv(actual), expected)[0].endswith("right")
