"""The ``module`` judge on hand-made modules: parameters' names and shapes against the
reference solution's, the train/eval mode, and with ``state_from`` the weights it was
given, each wrong in the typical ways."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from judging import judge, plan_check, returned

from grader.course.schema import ExerciseError
from grader.grading.plan import PlannedCheck
from grader.judges import Verdict
from grader.sandbox.protocol.mlp import MLP

LAYERS = [["fc1", 3, 4], ["out", 4, 1]]
STRUCTURE = """
judge: module
steps:
  - call: f
    args: [3]
    as: model
keep: [model]
"""
STEPS = """
judge: module
steps:
  - bind: {mlp: [[fc1, 3, 4], [out, 4, 1]]}
    as: weights
  - call: f
    args: [{ref: weights}]
    as: model
keep: [model]
"""


def mlp(layers: list = LAYERS, state: dict | None = None, training: bool = True) -> MLP:
    net = MLP(layers)
    if state is not None:
        net.load_state_dict(state)
    return net.train(training)


def verdict(
    pc: PlannedCheck, got: object, expected: object | None = None, name: str = "model"
) -> Verdict:
    return judge(
        pc, returned(**{name: got}), returned(**{name: mlp() if expected is None else expected})
    )


def test_the_same_structure_passes(tmp_path: Path):
    pc = plan_check(tmp_path, STRUCTURE)
    v = verdict(pc, mlp())
    assert v.passed and v.message == "f gave a MLP with the expected layers"
    assert v.details["parameters"] == [
        "fc1.weight [4, 3]",
        "fc1.bias [4]",
        "out.weight [1, 4]",
        "out.bias [1]",
    ]
    assert v.details["expected_parameters"] == v.details["parameters"]


def test_a_layer_of_the_wrong_size(tmp_path: Path):
    v = verdict(plan_check(tmp_path, STRUCTURE), mlp([["fc1", 3, 5], ["out", 5, 1]]))
    assert not v.passed
    assert v.message == (
        "f: 'fc1.weight' has shape [5, 3]; expected [4, 3]; 'fc1.bias' has shape [5]; "
        "expected [4]; 'out.weight' has shape [1, 5]; expected [1, 4]"
    )


def test_missing_and_unexpected_parameters(tmp_path: Path):
    v = verdict(plan_check(tmp_path, STRUCTURE), mlp([["fc1", 3, 4], ["head", 4, 1]]))
    assert v.message == (
        "f: no parameter 'out.weight' (expected shape [1, 4]); no parameter 'out.bias' "
        "(expected shape [1]); unexpected parameters head.weight, head.bias"
    )


def test_not_a_module(tmp_path: Path):
    pc = plan_check(tmp_path, STRUCTURE)
    assert verdict(pc, torch.zeros(2)).message == (
        "f: got a float32 tensor of shape [2]; expected a torch.nn.Module"
    )
    assert verdict(pc, None).message == "f: got None; expected a torch.nn.Module"
    assert verdict(pc, object()).message == (
        "f: got an object of class builtins.object; expected a torch.nn.Module"
    )
    v = judge(pc, {}, returned(model=mlp()))
    assert v.message == "f: got a _Missing; expected a torch.nn.Module"


def test_structure_false_does_not_compare_layers(tmp_path: Path):
    pc = plan_check(tmp_path, STRUCTURE + "with: {structure: false}")
    v = judge(pc, returned(model=torch.nn.Linear(2, 2)), None)
    assert v.passed and v.message == "f gave a Linear"
    assert "expected_parameters" not in v.details


@pytest.mark.parametrize(
    "wanted, training, passed, message",
    [
        ("false", False, True, "f gave a MLP in eval mode"),
        (
            "false",
            True,
            False,
            "f: the model is in training mode; call model.eval() before returning it",
        ),
        ("true", True, True, "f gave a MLP in training mode"),
        ("true", False, False, "f: the model is in eval mode; it should be in training mode"),
    ],
)
def test_training_option(tmp_path: Path, wanted: str, training: bool, passed: bool, message: str):
    pc = plan_check(tmp_path, STRUCTURE + f"with: {{structure: false, training: {wanted}}}")
    v = judge(pc, returned(model=mlp(training=training)))
    assert v.passed is passed and v.message == message


def test_without_the_training_option_the_mode_is_free(tmp_path: Path):
    pc = plan_check(tmp_path, STRUCTURE)
    assert verdict(pc, mlp(training=False)).passed and verdict(pc, mlp(training=True)).passed


def test_state_from_the_given_weights_passes(tmp_path: Path):
    pc = plan_check(tmp_path, STEPS + "with: {state_from: weights}")
    given = pc.bound["weights"].state
    assert sorted(given) == ["fc1.bias", "fc1.weight", "out.bias", "out.weight"]
    v = verdict(pc, mlp(state=given, training=False))
    assert v.passed
    assert v.message == "f gave a MLP with the expected layers, holding the weights it was given"


def test_state_from_other_weights(tmp_path: Path):
    pc = plan_check(tmp_path, STEPS + "with: {state_from: weights}")
    v = verdict(pc, mlp())  # freshly initialised, the saved weights never loaded
    assert not v.passed
    assert v.message.startswith(
        "f: 'fc1.weight' does not hold the saved weights (values differ at "
    )
    assert "expected" not in v.message.split("(", 1)[1]  # the weights are not shown


def test_state_from_compares_exactly(tmp_path: Path):
    pc = plan_check(tmp_path, STEPS + "with: {state_from: weights, structure: false}")
    state = {k: v.clone() for k, v in pc.bound["weights"].state.items()}
    state["out.bias"] += 1e-6
    v = verdict(pc, mlp(state=state))
    assert v.message.startswith(
        "f: 'out.bias' does not hold the saved weights (values differ at 1 of 1"
    )


def test_state_from_a_model_without_a_layer(tmp_path: Path):
    pc = plan_check(tmp_path, STEPS + "with: {state_from: weights, structure: false}")
    v = verdict(pc, torch.nn.Linear(3, 4))
    assert v.message == (
        "f: the model has no 'fc1.weight'; the model has no 'fc1.bias'; "
        "the model has no 'out.weight'; the model has no 'out.bias'"
    )


def test_state_from_with_a_double_model(tmp_path: Path):
    pc = plan_check(tmp_path, STEPS + "with: {state_from: weights, structure: false}")
    v = verdict(pc, mlp(state=pc.bound["weights"].state).double())
    assert v.message.startswith(
        "f: 'fc1.weight' does not hold the saved weights "
        "(dtype is float64; expected float32; the values are right)"
    )


def test_output_option(tmp_path: Path):
    pc = plan_check(
        tmp_path,
        STRUCTURE.replace("model", "result") + "with: {output: result}",
    )
    assert verdict(pc, mlp(), name="result").passed


@pytest.mark.parametrize(
    "option, words",
    [
        ("{structure: yes please}", "key 'structure': expected true or false"),
        ("{state_from: [w]}", "key 'state_from': expected text, got a list"),
        ("{mode: eval}", "key 'mode': unknown key"),
    ],
)
def test_options_are_validated_at_load(tmp_path: Path, option: str, words: str):
    with pytest.raises(ExerciseError, match=words):
        plan_check(tmp_path, STRUCTURE + f"with: {option}")


# ------------------------------------------------------------------ found by mutation testing
def test_what_is_not_a_module_fails(tmp_path: Path):
    v = verdict(plan_check(tmp_path, STRUCTURE), [1.0])
    assert v.passed is False
    assert v.message == "f: got a list of 1 items; expected a torch.nn.Module"


def test_at_most_four_problems_are_said_and_the_details_stay(tmp_path: Path):
    got = mlp([["a", 3, 4], ["b", 4, 1]])
    v = verdict(plan_check(tmp_path, STRUCTURE), got)
    assert v.passed is False
    assert v.message == (
        "f: no parameter 'fc1.weight' (expected shape [4, 3]); no parameter 'fc1.bias' "
        "(expected shape [4]); no parameter 'out.weight' (expected shape [1, 4]); "
        "no parameter 'out.bias' (expected shape [1])"
    )
    assert v.details["parameters"] == [
        "a.weight [4, 3]",
        "a.bias [4]",
        "b.weight [1, 4]",
        "b.bias [1]",
    ]


def test_at_most_four_unexpected_parameters_are_named(tmp_path: Path):
    got = mlp(LAYERS + [["x", 1, 1], ["y", 1, 1], ["z", 1, 1]])
    v = verdict(plan_check(tmp_path, STRUCTURE), got)
    assert v.message == "f: unexpected parameters x.weight, x.bias, y.weight, y.bias"
