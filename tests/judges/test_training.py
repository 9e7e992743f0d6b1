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
