"""The predicate language of ``that:`` (grader/judges/predicate.py): what it accepts,
what it refuses when the course loads (the instructor's mistakes), and how it treats
a student's values, decoded as the grader decodes them: a value it cannot be evaluated
on is NotEvaluable, never a crash, and nothing makes the grader hang."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import torch
from judging import returned

from grader.judges import predicate
from grader.judges.predicate import (
    NotEvaluable,
    PredicateError,
    compile_predicate,
    explain,
    holds,
    resolve_classes,
)
from grader.sandbox.protocol.values import ModuleValue


class Line(torch.nn.Linear):
    pass


def verdict(text: str, **values: Any) -> bool:
    return holds(compile_predicate(text), returned(**values))


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("result < 0.05", 0.01, True),
        ("result < 0.05", 0.31, False),
        ("0 <= result < 1", 0.5, True),
        ("0 <= result < 1", 1.0, False),
        ("result == 4", 4.0, True),
        ("result != 4", 4.0, False),
        ("abs(result - 4.0) < 1e-6", torch.tensor(4.0), True),
        ("result[1] < 0.05", (None, 0.01), True),
        ("result[-1] == 3 and result[0:2] == [1, 2]", [1, 2, 3], True),
        ("len(result) == 3", [1, 2], False),
        ("result['loss'] < 1 and 'loss' in result", {"loss": 0.5}, True),
        ("'acc' not in result", {"loss": 0.5}, True),
        ("result is None", None, True),
        ("result is not None", 0, True),
        ("not result", False, True),
        ("result or True", 0, True),
        ("result.shape == (2, 3)", torch.zeros(2, 3), True),
        ("result.shape == [2, 3] and result.ndim == 2", torch.zeros(2, 3), True),
        ("result.dtype == torch.float32", torch.zeros(2), True),
        ("result.dtype == torch.int64", torch.zeros(2), False),
        ("result.dtype in (torch.float32, torch.float64)", torch.zeros(2), True),
        ("result.dtype not in [torch.int64]", torch.zeros(2), True),
        ("result.requires_grad", torch.zeros(2, requires_grad=True), True),
        ("result >= 0", torch.tensor([1.0, 0.0]), True),  # every element
        ("result >= 0", torch.tensor([1.0, -2.0]), False),
        ("any(result < 0)", torch.tensor([1.0, -2.0]), True),
        ("all(result)", [1, True, "x"], True),
        ("result == [1, 2]", torch.tensor([1, 2]), True),
        ("result[0, 1] == 5", torch.tensor([[0, 5]]), True),
        ("max(result) == 5 and min(result) == 0", torch.tensor([[0, 5]]), True),
        ("max(result, 5) == 5 and min(result, 2) == 2", 5, True),
        ("sum(result) == 6 and sum(result) == 6", [1, 2, 3], True),
        ("round(result, 2) == 0.33", 1 / 3, True),
        ("round(result, 1) == [0.5, 1.5]", torch.tensor([0.52, 1.46]), True),
        ("result ** 2 // 3 % 2 == 1", 3, True),
        ("-result + +result == 0", 7, True),
        ("isinstance(result, int) and not isinstance(result, (float, str))", 3, True),
        ("isinstance(result, torch.Tensor)", torch.zeros(1), True),
        ("isinstance(result, torch.Size)", torch.Size([2]), True),
        ("isinstance(result, list)", torch.zeros(1), False),
        ("isinstance(result, nn.Linear)", torch.nn.Linear(1, 1), True),
        ("isinstance(result, torch.nn.Linear)", Line(1, 1), True),  # subclasses included
        ("isinstance(result, nn.Module)", Line(1, 1), True),
        ("isinstance(result, nn.Linear)", torch.nn.Sequential(torch.nn.Linear(1, 1)), False),
        ("isinstance(result, nn.Linear)", torch.zeros(1), False),
        ("isinstance(result, nn.Linear) and not result.training", Line(1, 1).eval(), True),
    ],
)
def test_the_language(text: str, value: Any, expected: bool) -> None:
    assert verdict(text, result=value) is expected


def test_several_kept_values_by_name() -> None:
    assert verdict("mse < 0.05 and isinstance(model, nn.Linear)", mse=0.01, model=Line(1, 1))
    assert compile_predicate("mse < model").names == frozenset({"mse", "model"})


def test_a_module_sent_without_its_classes_is_known_by_its_own() -> None:
    bare = ModuleValue(cls="torch.nn.modules.linear.Linear", training=True, params=[], children=[])
    assert holds(compile_predicate("isinstance(result, nn.Linear)"), {"result": bare})
    assert not holds(compile_predicate("isinstance(result, nn.Module)"), {"result": bare})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("__import__('os')", "the call of __import__ is not allowed"),
        ("result.__class__", "attributes starting with '_' are not allowed"),
        ("result.__class__.__mro__[1].__subclasses__()", "the call of"),
        ("result.shape.__len__", "attributes starting with '_' are not allowed"),
        ("_secret < 1", "names starting with '_' are not allowed"),
        ("lambda: 1", "a lambda is not allowed"),
        ("(lambda: 1)()", "the call of a lambda is not allowed"),
        ("[x for x in result]", "a comprehension is not allowed"),
        ("all(x > 0 for x in result)", "a comprehension is not allowed"),
        ("{x for x in result}", "a comprehension is not allowed"),
        ("{k: 1 for k in result}", "a comprehension is not allowed"),
        ("(y := result) > 0", "':=' is not allowed"),
        ("getattr(result, 'shape')", "the call of getattr is not allowed"),
        ("eval('1')", "the call of eval is not allowed"),
        ("open('/etc/passwd')", "the call of open is not allowed"),
        ("result.numpy()", "the call of result.numpy is not allowed"),
        ("result.item() < 1", "the call of result.item is not allowed"),
        ("result.real > 0", "the attribute '.real' is not allowed"),
        ("torch.load", "allowed only as a dtype in a comparison or as a class"),
        ("torch.float32", "allowed only as a dtype in a comparison or as a class"),
        ("nn", "may only name a class in isinstance"),
        ("len", "is a function: call it"),
        ("isinstance(result, os.path)", "isinstance(...) takes a class"),
        ("isinstance(result, result)", "isinstance(...) takes a class"),
        ("isinstance(result)", "isinstance(...) takes 2 arguments"),
        ("len(*result)", "takes its arguments by position only"),
        ("round(result, ndigits=2)", "takes its arguments by position only"),
        ("[*result]", "'*' unpacking is not allowed"),
        ("result @ result", "the operator '@' is not allowed"),
        ("result << 2", "the operator '<<' is not allowed"),
        ("result & 1", "the operator '&' is not allowed"),
        ("~result", "the operator '~' is not allowed"),
        ("result is 1", "'is' and 'is not' compare only with None"),
        ("f'{result}' == 'x'", "an f-string is not allowed"),
        ("result if result else 0", "'... if ... else ...' is not allowed"),
        ("result == {1: 2}", "a dict display is not allowed"),
        ("result == b'x'", "the constant b'x' is not allowed"),
        ("result == 1j", "the constant 1j is not allowed"),
        ("result <", "not a Python expression"),
        ("x = 1", "not a Python expression"),
        ("", "expected a predicate"),
        ("10 ** 10 ** 10 > result", "cannot be computed: a number of more than"),
        ("result < 1 / 0", "cannot be computed: it divides by zero"),
    ],
)
def test_what_the_language_refuses(text: str, words: str) -> None:
    with pytest.raises(PredicateError, match=re.escape(words)):
        compile_predicate(text)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100 + "result" + "]" * 100,
        "not " * 200 + "result",
        "-" * 900 + "result",
        "result" + "[0]" * 60,
        "result" + " + 1" * 200,
        "x" * (predicate.MAX_LENGTH + 1),
        "(" * 10_000 + ")" * 10_000,
    ],
    ids=["lists", "not", "minus", "subscripts", "sums", "length", "huge"],
)
def test_deep_nesting_is_refused_at_once(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(PredicateError):
        compile_predicate(text)
    assert time.monotonic() - started < 1


def test_a_nesting_within_the_limit_is_read() -> None:
    assert verdict("(" * 30 + "result" + ")" * 30 + " == 1", result=1)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("result ** 10 ** 9 > 0", 10),
        ("result ** result > 0", 2**62),
        ("result ** 150 * result ** 150 > 0", 2**62),
        ("result ** 10 ** 9 > 0", 10.0),
        ("result ** 10 ** 9 > 0", torch.tensor([10.0])),
        ("round(result, 10 ** 9) > 0", 1.5),
    ],
)
def test_huge_numbers_do_not_hang_the_grader(text: str, value: Any) -> None:
    started = time.monotonic()
    try:
        verdict(text, result=value)
    except NotEvaluable as exc:
        assert "too large" in str(exc) or "bits" in str(exc) or "digits" in str(exc)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("text", "value", "words"),
    [
        ("result[1] < 0.05", 0.31, "the float 0.31 cannot be indexed"),
        ("result[5] < 0.05", [1, 2], "IndexError: list index out of range"),
        ("result['x'] < 1", {"y": 1}, "the dict has no key 'x'"),
        ("result < 0.05", "abc", "cannot compare the string 'abc' with the float 0.05"),
        ("result < 0.05", [1], "cannot order a list of 1 items"),
        ("result < 0.05", None, "cannot order None"),
        ("result + 1 > 0", "abc", "'+' takes numbers or tensors, not the string 'abc'"),
        ("result * 1000 > 0", [1], "'*' takes numbers or tensors"),
        ("len(result) == 2", torch.nn.Linear(1, 1), "has no length"),
        ("len(result) == 2", 3, "the int 3 has no length"),
        ("result.shape == (2,)", [1, 2], "a list of 2 items has no .shape"),
        ("result.training", torch.zeros(1), "has no .training"),
        ("result > 0", torch.zeros(0), "an empty tensor is neither true nor false"),
        ("result[0] + result[1] > 0", (torch.zeros(2), torch.zeros(3)), "RuntimeError"),
        ("result / 0 > 1", 1, "it divides by zero"),
        ("min(result) > 0", [], "min(...) of an empty list"),
        ("max(result) > 0", ["a"], "max(...) takes numbers"),
        ("missing > 0", 1, "there is no value 'missing'"),
    ],
)
def test_a_students_value_it_cannot_be_evaluated_on(text: str, value: Any, words: str) -> None:
    with pytest.raises(NotEvaluable, match=re.escape(words)):
        verdict(text, result=value)


def test_a_tensor_too_large_is_not_computed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(predicate, "MAX_ELEMENTS", 10)
    with pytest.raises(NotEvaluable, match="a tensor of 11 elements is too large"):
        verdict("result * 2 > 0", result=torch.zeros(11))
    with pytest.raises(NotEvaluable, match="too large"):
        verdict("result == 0", result=torch.zeros(11))
    assert verdict("len(result) == 11", result=torch.zeros(11))


@pytest.mark.parametrize(
    ("text", "value", "shown"),
    [
        ("result < 0.05", 0.31, "0.31"),
        ("result[1] < 0.05", (None, 0.31), "result[1] = 0.31"),
        ("len(result) == 3", [1, 2], "len(result) = 2"),
        ("0.05 > result", 0.31, "0.31"),
        ("len(result) == 2 and result[1] < 0.05", (None, 0.31), "result[1] = 0.31"),
        ("not result < 1", 0.5, "0.5"),
        ("all(result > 0)", torch.tensor([1.0, -2.0]), "tensor([1, -2])"),
        ("isinstance(result, nn.Linear)", torch.nn.ReLU(), ""),
        ("result.shape == (3,)", torch.zeros(2, 2), "result.shape = (2, 2)"),
        ("result == 'b'", "a", "'a'"),
        ("result", torch.zeros(20), "a float32 tensor of shape [20]"),
    ],
)
def test_what_a_failed_predicate_shows_of_the_value(text: str, value: Any, shown: str) -> None:
    pred = compile_predicate(text)
    env = returned(result=value)
    assert not holds(pred, env)
    if text.startswith("isinstance"):
        shown = "a module of class torch.nn.modules.activation.ReLU"
    assert explain(pred, env) == shown


def test_module_classes_are_checked_against_torch_nn() -> None:
    resolve_classes(compile_predicate("isinstance(result, (nn.Linear, torch.nn.Conv2d))"))
    for wrong in ("Linaer", "functional", "Parameter", "init"):
        with pytest.raises(PredicateError, match=f"nn.{wrong} is not a module class of torch.nn"):
            resolve_classes(compile_predicate(f"isinstance(result, torch.nn.{wrong})"))


def test_nothing_of_the_text_is_evaluated_by_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluator walks the tree itself: eval and compile are never reached."""
    import builtins

    pred = compile_predicate("len(result) == 2 and result[1] < 0.05")  # ast.parse compiles

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eval or compile was called")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "compile", refuse)
    assert holds(pred, returned(result=(Line(1, 1), 0.01)))
