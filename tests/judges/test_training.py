"""The ``training`` judge on hand-made trained models: the grader computes the model's
MSE on a held-out set from the check's hidden data and compares it with the target;
the returned losses, their count and the advice for each typical mistake are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from judging import judge, plan_check, returned

from grader.course.schema import ExerciseError
from grader.grading.plan import PlannedCheck
from grader.judges import Verdict
from grader.judges.training import Training
from grader.sandbox.protocol.mlp import MLP

DATA = {
    "hidden/data.py": """
    import torch


    def regression(seed):
        gen = torch.Generator().manual_seed(seed)
        X = torch.randn(48, 2, generator=gen)
        y = torch.full((48, 1), 10.0)  # a trained model answers 10 everywhere
        return {"X_train": X[:32], "y_train": y[:32], "X_test": X[32:], "y_test": y[32:]}
"""
}
CHECK = """
judge: training
data: hidden/data.py:regression
steps:
  - bind: {mlp: [[fc1, 2, 4], [out, 4, 1]]}
    as: model
  - call: f
    args: [{ref: model}, {data: X_train}, {data: y_train}]
    as: result
keep: [result, model]
"""
LAYERS = [["fc1", 2, 4], ["out", 4, 1]]
LOSSES = [5.0, 3.0, 2.0, 1.0, 0.5]


def check(
    tmp_path: Path, options: str = "{target_mse: 1.0, epochs: 5}", extra: str = ""
) -> PlannedCheck:
    return plan_check(tmp_path, CHECK + f"with: {options}\n" + extra, files=DATA)


def trained(bias: float = 10.0) -> MLP:
    """A model that answers ``bias`` everywhere: its held-out MSE is (bias - 10) ** 2."""
    net = MLP(LAYERS)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.out.bias.fill_(bias)
    return net


def given(pc: PlannedCheck) -> MLP:
    net = MLP(LAYERS)
    net.load_state_dict(pc.bound["model"].state)
    return net


def verdict(
    pc: PlannedCheck, model: object, losses: object = LOSSES, expected: object = None
) -> Verdict:
    reference = None if expected is None else returned(result=expected)
    return judge(pc, returned(model=model, result=losses), reference)


def test_the_held_out_set_stays_with_the_grader(tmp_path: Path):
    pc = check(tmp_path)
    assert set(pc.data) == {"X_train", "y_train", "X_test", "y_test"}
    assert "X_test" not in str(pc.probe.steps)


def test_a_trained_model_under_the_target_passes(tmp_path: Path):
    v = verdict(check(tmp_path), trained())
    assert v.passed and v.message == "f: held-out MSE 0 is under the target 1"
    assert v.details["target_mse"] == "1" and v.details["mse_after_training"] == "0"
    assert v.details["held_out_variance"] == "0"
    assert float(v.details["mse_before_training"]) > 50
    assert v.figures == []


def test_the_target_itself_passes_and_just_above_fails(tmp_path: Path):
    pc = check(tmp_path)
    assert verdict(pc, trained(9.0)).passed  # MSE exactly 1
    v = verdict(pc, trained(8.9))
    assert not v.passed
    assert v.message.startswith(
        "f: after training, the model's MSE on held-out data is 1.21; the "
        "target is 1 (before training it was "
    )


def test_unchanged_weights_get_the_advice_for_a_missing_step(tmp_path: Path):
    pc = check(tmp_path)
    v = verdict(pc, given(pc), [1.0] * 5)
    assert not v.passed
    assert v.message.endswith(
        "). The weights did not change at all: every epoch needs zero_grad(), "
        "then loss.backward(), then optimizer.step(), in that order."
    )


def test_a_loss_that_barely_went_down(tmp_path: Path):
    pc = check(tmp_path, "{target_mse: 1.0}")
    v = verdict(pc, trained(0.0), [1.0] * 6 + [0.6] * 6)
    assert v.message.endswith(
        "The loss barely went down: check that optimizer.zero_grad() is called "
        "every epoch, before loss.backward()."
    )


def test_a_loss_that_went_down_then_up(tmp_path: Path):
    pc = check(tmp_path, "{target_mse: 1.0}")
    v = verdict(pc, trained(0.0), [10.0, 8.0, 6.0, 4.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 5.0])
    assert v.message.endswith(
        "The loss went down, then up again: gradients may be piling up; call "
        "optimizer.zero_grad() every epoch."
    )


def test_other_failures_get_the_general_advice(tmp_path: Path):
    v = verdict(check(tmp_path), trained(0.0))
    assert v.message.endswith("Check the order forward, loss, zero_grad, backward, step.")
    [figure] = v.figures
    assert figure == {
        "kind": "losses",
        "title": "f: training loss per epoch",
        "losses": LOSSES,
        "reference": None,
        "target": 1.0,
        "target_label": "target held-out MSE 1",
    }


def test_non_finite_weights_fail(tmp_path: Path):
    net = trained()
    with torch.no_grad():
        net.out.bias.fill_(float("nan"))
    v = verdict(check(tmp_path), net, [1.0, float("nan"), 1.0, 1.0, 1.0])
    assert not v.passed
    assert v.message.startswith("f: after training, the model's MSE on held-out data is nan;")
    assert v.figures[0]["losses"] == [1.0, "nan", 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "model, words",
    [
        (torch.zeros(3), "f: the model could not be read back after training"),
        (None, "f: the model could not be read back after training"),
        (
            MLP([["fc1", 2, 5], ["out", 5, 1]]),
            "f: the trained model's weights no longer fit it (Error(s) in "
            "loading state_dict for MLP",
        ),
        (
            torch.nn.Linear(2, 1),
            "f: the trained model's weights no longer fit it (Error(s) in loading "
            "state_dict for MLP",
        ),
    ],
)
def test_a_model_that_cannot_be_evaluated(tmp_path: Path, model: object, words: str):
    v = verdict(check(tmp_path), model)
    assert not v.passed and v.message.startswith(words)
    assert "mse_after_training" not in v.details


@pytest.mark.parametrize(
    "losses, words",
    [
        (0.5, "train should return the list of per-epoch losses, and returned the float 0.5"),
        (
            torch.tensor(LOSSES),
            "train should return the list of per-epoch losses, and returned a "
            "float32 tensor of shape [5]",
        ),
        (
            [torch.tensor(1.0)] * 5,
            "the losses should be Python floats (use loss.item()), found a float32 tensor",
        ),
        (
            [1.0, 2, 3.0, 4.0, 5.0],
            "the losses should be Python floats (use loss.item()), found the int 2",
        ),
        ([1.0, 0.5, 0.25], "train returned 3 losses for 5 epochs"),
    ],
)
def test_the_losses_of_a_model_that_trained_well(tmp_path: Path, losses: object, words: str):
    """One mistake is charged once: what train returns is judged by the check that names
    it, so a model that trained well passes here, and the message mentions the losses."""
    v = verdict(check(tmp_path), trained(), losses)
    assert v.passed
    assert v.message.startswith("f: held-out MSE ")
    assert v.message.endswith(f" (the loss curve is not drawn: {words})")
    assert not v.figures


def test_missing_losses(tmp_path: Path):
    v = judge(check(tmp_path), returned(model=trained()))
    assert v.passed
    assert v.message.endswith(
        " (the loss curve is not drawn: train should return the list of per-epoch "
        "losses, and returned None)"
    )


def test_without_epochs_any_number_of_losses_will_do(tmp_path: Path):
    assert verdict(check(tmp_path, "{target_mse: 1.0}"), trained(), [1.0]).passed


def test_the_reference_curve_is_drawn_only_when_disclosed(tmp_path: Path):
    reference = [4.0, 2.0, 1.0, 0.5, 0.25]
    hidden = verdict(
        check(tmp_path, "{target_mse: 1.0, epochs: 5, solution: true}"),
        trained(0.0),
        expected=reference,
    )
    assert hidden.figures[0]["reference"] is None
    shown = verdict(
        check(
            tmp_path / "shown",
            "{target_mse: 1.0, epochs: 5, solution: true}",
            "disclose: [expected]",
        ),
        trained(0.0),
        expected=reference,
    )
    assert shown.figures[0]["reference"] == reference
    odd = verdict(
        check(tmp_path / "odd", "{target_mse: 1.0, solution: true}", "disclose: [expected]"),
        trained(0.0),
        expected=[1, 2],
    )
    assert odd.figures[0]["reference"] is None  # only a list of floats is drawn


def test_solution_option_asks_for_the_reference_run(tmp_path: Path):
    assert not check(tmp_path).needs_solution
    assert check(tmp_path / "s", "{target_mse: 1.0, solution: true}").needs_solution


def test_model_losses_x_and_y_options(tmp_path: Path):
    text = (
        CHECK.replace("as: model", "as: net")
        .replace("{ref: model}", "{ref: net}")
        .replace("as: result", "as: curve")
        .replace("[result, model]", "[curve, net]")
    )
    files = {
        "hidden/data.py": DATA["hidden/data.py"]
        .replace('"X_test"', '"Xh"')
        .replace('"y_test"', '"yh"')
    }
    pc = plan_check(
        tmp_path,
        text + "with: {model: net, losses: curve, x: Xh, y: yh, target_mse: 1.0}",
        files=files,
    )
    assert judge(pc, returned(net=trained(), curve=LOSSES)).passed
    assert not judge(pc, returned(net=trained(8.0), curve=LOSSES)).passed


@pytest.mark.parametrize(
    "option, words",
    [
        ("{target_mse: low}", "key 'target_mse': expected a number, got 'low'"),
        ("{target_mse: 1.0, epochs: [5]}", "key 'epochs': expected a number"),
        ("{target_mse: 1.0, lr: 0.1}", "key 'lr': unknown key"),
    ],
)
def test_options_are_validated_at_load(tmp_path: Path, option: str, words: str):
    with pytest.raises(ExerciseError, match=words):
        check(tmp_path, option)


def test_a_check_sending_its_held_out_set_is_refused(tmp_path: Path):
    with pytest.raises(ExerciseError, match="would send its held-out X_test into the sandbox"):
        plan_check(
            tmp_path,
            CHECK.replace("{data: X_train}", "{data: X_test}") + "with: {target_mse: 1.0}",
            files=DATA,
        )


# ------------------------------------------------------------------ found by mutation testing
BARELY = "The loss barely went down"
UP_AGAIN = "The loss went down, then up again"
GENERIC = "Check the order forward, loss, zero_grad, backward, step."


@pytest.mark.parametrize(
    "losses, start",
    [
        # More than ten epochs and the second half never below half the first loss.
        ([1.0] * 11, BARELY),
        ([1.0] * 10, GENERIC),  # ten epochs are too few to say
        ([1.0, 2.0] + [0.9] * 9, BARELY),  # measured against the first loss, not the second
        ([1.0, 0.9, 0.8, 0.3] + [0.9] * 7, BARELY),  # the dip at epoch 3 is in the first half
        ([1.0, 0.9, 0.8, 0.7, 0.6] + [0.5] * 6, GENERIC),  # half exactly is going down
        # More than ten epochs and the last loss over three times the lowest.
        ([1.0, 0.3, 0.2] + [0.1] * 7 + [0.35], UP_AGAIN),
        ([1.0, 0.3, 0.2] + [0.1] * 6 + [0.35], GENERIC),  # ten epochs
        ([1.0, 0.1, 0.5], GENERIC),
        ([1.0] + [0.25] * 9 + [0.75], GENERIC),  # three times exactly is not over
        ([1.0] + [0.25] * 9 + [0.5], GENERIC),
    ],
)
def test_advice_from_the_loss_curve(losses: list[float], start: str):
    assert Training.advice(False, losses).startswith(start)


# ------------------------------------------------------------------ metrics and model kinds
BLOBS = {
    "hidden/blobs.py": """
    import torch

    from grader.judge_api import make_net


    def blobs(seed):
        gen = torch.Generator().manual_seed(seed)
        X = torch.randn(40, 2, generator=gen)
        y = torch.arange(40) % 2  # class 1 where the first feature is high, see below
        X[:, 0] += 4 * y
        return {
            "X_train": X[:20], "y_train": y[:20], "X_test": X[20:], "y_test": y[20:],
            "model": make_net([["fc", "Linear", 2, 2]], seed),
        }


    def error_rate(predictions, targets):
        return float((predictions.argmax(1) != targets).float().mean())
"""
}
# The student's own class: the steps build it, train it, then apply it to the held-out
# inputs; only X_test crosses, y_test stays in the grader.
STUDENT_CLASS = """
judge: training
entry: train
data: hidden/blobs.py:blobs
steps:
  - call: Net
    as: model
  - call: train
    args: [{ref: model}, {data: X_train}, {data: y_train}]
    as: result
  - call: model
    args: [{data: X_test}]
    as: predictions
keep: [result, predictions]
"""
NET_SPEC = """
judge: training
entry: train
data: hidden/blobs.py:blobs
steps:
  - bind: {data: model}
    as: model
  - call: train
    args: [{ref: model}, {data: X_train}, {data: y_train}]
    as: result
keep: [result, model]
"""
ENTRIES = ("Net", "train")


def classify(tmp_path: Path, steps: str, options: str) -> PlannedCheck:
    return plan_check(tmp_path, steps + f"with: {options}\n", files=BLOBS, entries=ENTRIES)


def scores(pc: PlannedCheck, right: int) -> torch.Tensor:
    """Two logits per held-out row, the first ``right`` rows classified right."""
    y = pc.data["y_test"]
    chosen = torch.where(torch.arange(len(y)) < right, y, 1 - y)
    return torch.nn.functional.one_hot(chosen, 2).float() * 3 - 1


def test_a_student_class_is_scored_on_its_held_out_predictions(tmp_path: Path):
    pc = classify(
        tmp_path, STUDENT_CLASS, "{metric: accuracy, target: 0.9, predictions: predictions}"
    )
    assert "X_test" in str(pc.spec.steps) and "y_test" not in str(pc.spec.steps)
    v = judge(pc, returned(result=LOSSES, predictions=scores(pc, 19)))
    assert v.passed and v.message == "train: held-out accuracy 0.95 reaches the target 0.9"
    assert v.details == {"target_accuracy": "0.9", "accuracy_after_training": "0.95"}
    v = judge(pc, returned(result=LOSSES, predictions=scores(pc, 17)))
    assert not v.passed
    assert v.message.startswith(
        "train: after training, the model's accuracy on held-out data is 0.85; the target is 0.9. "
    )  # no "before training": the grader never saw the class's first weights
    assert v.figures[0]["target"] is None  # an accuracy is not drawn on the loss's axis


def test_a_student_class_whose_loss_never_moved_gets_the_step_advice(tmp_path: Path):
    pc = classify(
        tmp_path, STUDENT_CLASS, "{metric: accuracy, target: 0.9, predictions: predictions}"
    )
    v = judge(pc, returned(result=[0.7] * 5, predictions=scores(pc, 10)))
    assert not v.passed and "The weights did not change at all" in v.message


@pytest.mark.parametrize(
    "predictions, words",
    [
        ("a list", "should be a tensor, and is a list of 2 items"),
        (torch.zeros(7, 2), "predictions of shape 7x2 for 20 held-out rows"),
        (torch.zeros(20, 2, dtype=torch.bool), "predictions are bool, not numbers"),
    ],
)
def test_predictions_that_cannot_be_scored_fail_saying_why(
    tmp_path: Path, predictions: object, words: str
):
    pc = classify(
        tmp_path, STUDENT_CLASS, "{metric: accuracy, target: 0.9, predictions: predictions}"
    )
    predictions = [1, 2] if predictions == "a list" else predictions
    v = judge(pc, returned(result=LOSSES, predictions=predictions))
    assert not v.passed and words in v.message


def test_cross_entropy_is_lower_is_better_with_a_target_line(tmp_path: Path):
    pc = classify(
        tmp_path, STUDENT_CLASS, "{metric: cross-entropy, target: 0.2, predictions: predictions}"
    )
    good = judge(pc, returned(result=LOSSES, predictions=scores(pc, 20) * 5))
    assert good.passed and good.message.startswith("train: held-out cross-entropy ")
    assert "is under the target 0.2" in good.message
    bad = judge(pc, returned(result=LOSSES, predictions=scores(pc, 10)))
    assert not bad.passed and bad.figures[0]["target"] == 0.2
    assert bad.figures[0]["target_label"] == "target held-out cross-entropy 0.2"
    expected = float(torch.nn.functional.cross_entropy(scores(pc, 10), pc.data["y_test"]))
    assert bad.details["cross_entropy_after_training"] == f"{expected:.6g}"


def test_one_logit_per_row_for_two_classes(tmp_path: Path):
    pc = classify(
        tmp_path, STUDENT_CLASS, "{metric: accuracy, target: 1, predictions: predictions}"
    )
    logits = (pc.data["y_test"].float() * 2 - 1).unsqueeze(1)  # > 0 exactly for class 1
    assert judge(pc, returned(result=LOSSES, predictions=logits)).passed
    probabilities = classify(
        tmp_path / "p",
        STUDENT_CLASS,
        "{metric: accuracy, target: 1, threshold: 0.5, predictions: predictions}",
    )
    assert judge(
        probabilities, returned(result=LOSSES, predictions=(logits + 1) / 2 * 0.8 + 0.1)
    ).passed


def test_a_helpers_metric_with_its_direction(tmp_path: Path):
    pc = classify(
        tmp_path,
        STUDENT_CLASS,
        "{metric: 'hidden/blobs.py:error_rate', target: 0.1, predictions: predictions}",
    )
    v = judge(pc, returned(result=LOSSES, predictions=scores(pc, 19)))
    assert v.passed and v.message == "train: held-out error_rate 0.05 is under the target 0.1"
    assert v.details["metric_after_training"] == "0.05"
    pc = classify(
        tmp_path / "h",
        STUDENT_CLASS,
        "{metric: 'hidden/blobs.py:error_rate', better: higher, target: 0.1, "
        "predictions: predictions}",
    )
    assert not judge(pc, returned(result=LOSSES, predictions=scores(pc, 19))).passed


def test_a_net_spec_from_the_data_helper_is_rebuilt_by_the_grader(tmp_path: Path):
    """A NetSpec model: the grader loads the trained weights into its own copy and
    predicts the held-out rows itself; nothing held out enters the sandbox."""
    from grader.sandbox.protocol.mlp import Net

    pc = classify(tmp_path, NET_SPEC, "{metric: accuracy, target: 0.9}")
    assert "X_test" not in str(pc.probe.steps)
    spec = pc.bound["model"]
    net = Net(spec.layers)
    with torch.no_grad():
        net.fc.weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
        net.fc.bias.copy_(torch.tensor([2.0, -2.0]))  # class 1 where x0 > 2
    v = judge(pc, returned(result=LOSSES, model=net))
    assert v.passed, v.message
    assert set(v.details) == {
        "target_accuracy",
        "accuracy_before_training",
        "accuracy_after_training",
    }
    untrained = Net(spec.layers)
    untrained.load_state_dict(spec.state)
    pc = classify(tmp_path / "u", NET_SPEC, "{metric: cross-entropy, target: 0.01}")
    v = judge(pc, returned(result=[0.7] * 5, model=untrained))
    assert not v.passed and "(before training it was " in v.message
    assert "The weights did not change at all" in v.message


def test_a_net_spec_crosses_as_data_and_is_built_the_same_inside():
    from grader.judge_api import NetSpec, make_net
    from grader.sandbox.protocol.values import INPUT, Decoder, InputEncoder

    layers = [
        ["conv", "Conv2d", 1, 2, 3],
        ["act", "ReLU"],
        ["flat", "Flatten"],
        ["fc", "Linear", 8, 3],
    ]
    spec = make_net(layers, 7)
    assert isinstance(spec, NetSpec) and make_net(layers, 7).state.keys() == spec.state.keys()
    assert all(torch.equal(v, make_net(layers, 7).state[k]) for k, v in spec.state.items())
    enc = InputEncoder()
    built = Decoder(INPUT, enc.tensors).decode(enc.encode(spec))
    assert set(built.state_dict()) == set(spec.state)
    assert built(torch.randn(2, 1, 4, 4)).shape == (2, 3)


@pytest.mark.parametrize(
    "option, words",
    [
        ("{metric: f1, target: 1}", "key 'metric': expected mse, accuracy, cross-entropy"),
        ("{metric: accuracy}", "key 'target': give the held-out target"),
        ("{target: 1, target_mse: 1}", "key 'target': give the held-out target"),
        ("{metric: accuracy, target_mse: 1}", "'target_mse' is for metric mse"),
        ("{metric: accuracy, target: 1, better: higher}", "'better' is for a helper's metric"),
        ("{metric: 'hidden/blobs.py:nothing', target: 1}", "defines no function 'nothing'"),
        ("{target: 1, better: up}", "key 'better': expected one of higher, lower"),
        ("{metric: accuracy, target: 1, predictions: preds}", "'preds' is not kept"),
    ],
)
def test_general_options_are_validated_at_load(tmp_path: Path, option: str, words: str):
    with pytest.raises(ExerciseError, match=words):
        classify(tmp_path, NET_SPEC, option)


def test_without_predictions_a_student_class_may_not_send_its_held_out_set(tmp_path: Path):
    with pytest.raises(ExerciseError, match="would send its held-out X_test"):
        classify(tmp_path, STUDENT_CLASS, "{metric: accuracy, target: 0.9}")
    with pytest.raises(ExerciseError, match="would send its held-out y_test"):
        classify(
            tmp_path / "y",
            STUDENT_CLASS.replace("{data: y_train}", "{data: y_test}"),
            "{metric: accuracy, target: 0.9, predictions: predictions}",
        )


def test_a_check_with_neither_a_bound_network_nor_predictions_is_refused(tmp_path: Path):
    with pytest.raises(ExerciseError, match="the training judge scores a network a step binds"):
        classify(
            tmp_path,
            STUDENT_CLASS.replace(
                "  - call: model\n    args: [{data: X_test}]\n    as: predictions\n", ""
            ).replace("keep: [result, predictions]", "keep: [result, model]"),
            "{metric: accuracy, target: 0.9}",
        )
