"""Hidden helpers for training-loop: the synthetic regression problem and a judge of
the returned losses.

The held-out set (X_test, y_test) stays in the grader: the training judge computes the
trained model's MSE on it; checks never name it in their arguments.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grader.judges.base import JudgeContext, Verdict
from grader.judges.compare import as_numbers, describe_value, fmt_number
from grader.judges.training import mse_of
from grader.wire import MLPSpec, ModuleValue

FEATURES = 87
N_TRAIN = 400
N_TEST = 400


def regression_data(seed: int) -> dict[str, Any]:
    """A seeded regression problem with 87 features: a random teacher (a linear part plus
    a smooth nonlinear part through 4 hidden directions) and a little noise. y is
    centred and scaled to variance 1 over all rows, so the held-out variance is close
    to 1 on every seed."""
    gen = torch.Generator().manual_seed((seed + 0x7EAC) % 2**63)
    n = N_TRAIN + N_TEST
    X = torch.randn(n, FEATURES, generator=gen)
    w = torch.randn(FEATURES, 1, generator=gen) / FEATURES**0.5
    U = torch.randn(FEATURES, 4, generator=gen) / FEATURES**0.5
    v = torch.randn(4, 1, generator=gen)
    y = X @ w + 0.5 * torch.tanh(X @ U) @ v + 0.1 * torch.randn(n, 1, generator=gen)
    y = (y - y.mean()) / y.std()
    return {
        "X_train": X[:N_TRAIN],
        "y_train": y[:N_TRAIN],
        "X_test": X[N_TRAIN:],
        "y_test": y[N_TRAIN:],
    }


def judge_losses(ctx: JudgeContext) -> Verdict:
    """train(model, X_train, y_train, epochs=E) must return E Python floats, the first
    being the loss of the untrained model (or of the model after one step), the weights
    must change, and the last loss must be lower than the first.

    params: epochs (E).
    """
    entry = ctx.entry
    params = ctx.opt("params") or {}
    epochs = int(params.get("epochs", 5))
    losses = ctx.outputs.get("result")
    spec = ctx.inputs.get("model")
    if not isinstance(spec, MLPSpec):
        raise ValueError("judge_losses needs the model bound with `bind: {mlp: ...}` as model")
    initial = mse_of(spec, spec.state, ctx.data["X_train"], ctx.data["y_train"])
    details: dict[str, Any] = {"epochs": epochs, "loss_of_the_untrained_model": fmt_number(initial)}
    if losses is None:
        return Verdict(
            False,
            f"{entry} returned None; return the list of per-epoch losses (return losses "
            "after the loop)",
            details,
        )
    if not isinstance(losses, list):
        return Verdict(
            False,
            f"{entry} returned {describe_value(losses)}; "
            f"expected a list of {epochs} Python floats, "
            "one loss per epoch",
            details,
        )
    tensors = [v for v in losses if not isinstance(v, float)]
    if tensors:
        wrong_type = (
            f"{entry}: the losses should be Python floats, but the list holds "
            f"{describe_value(tensors[0])}; append loss.item(), not the loss tensor"
        )
        # The values are still judged, so the student learns both halves at once.
        numbers = [as_numbers(v) for v in losses]
        if not all(n is not None and n.numel() == 1 for n in numbers):
            return Verdict(False, wrong_type, details)
        as_floats = [float(n.item()) for n in numbers]  # type: ignore[union-attr]
        verdict = _judge_float_losses(ctx, entry, epochs, as_floats, spec, initial, details)
        if verdict.passed:
            said = (
                f"their values are right: {epochs} losses, going down from "
                f"{fmt_number(as_floats[0])} to {fmt_number(as_floats[-1])}"
            )
        else:
            said = "their values are wrong too: " + verdict.message.removeprefix(f"{entry}: ")
        return Verdict(False, f"{wrong_type}; {said}", verdict.details)
    return _judge_float_losses(ctx, entry, epochs, losses, spec, initial, details)


def _judge_float_losses(
    ctx: JudgeContext,
    entry: str,
    epochs: int,
    losses: list[float],
    spec: MLPSpec,
    initial: float,
    details: dict[str, Any],
) -> Verdict:
    """The rest of judge_losses, once the losses are numbers."""
    details["losses"] = [fmt_number(v) for v in losses[:50]]
    if len(losses) != epochs:
        return Verdict(
            False,
            f"{entry}: called with epochs={epochs}, it returned {len(losses)} losses; expected "
            f"one per epoch, {epochs} in all",
            details,
        )
    if not all(math.isfinite(v) for v in losses):
        return Verdict(
            False,
            f"{entry}: the losses contain NaN or inf: {', '.join(details['losses'])}",
            details,
        )
    # The first loss is the untrained model's training MSE; a loop that records the loss
    # after optimizer.step() is accepted too (one Adam step lowers it by far less than half).
    if not (
        math.isclose(losses[0], initial, rel_tol=1e-3, abs_tol=1e-6)
        or 0.5 * initial <= losses[0] < initial
    ):
        return Verdict(
            False,
            f"{entry}: the first loss is {fmt_number(losses[0])}, but the untrained model's MSE "
            f"on the training data is {fmt_number(initial)}; record loss.item() of each epoch's "
            "forward pass (the mean squared error given by loss_fn on all of X and y)",
            details,
        )
    trained = ctx.outputs.get("model")
    unchanged = isinstance(trained, ModuleValue) and all(
        key in trained.state and torch.equal(trained.state[key].data, value)
        for key, value in spec.state.items()
    )
    if unchanged:
        return Verdict(
            False,
            f"{entry}: after {epochs} epochs the model's weights have not changed at all; call "
            "optimizer.step() every epoch, after loss.backward()",
            details,
        )
    if not losses[-1] < losses[0]:
        return Verdict(
            False,
            f"{entry}: the loss did not go down in {epochs} epochs "
            f"({fmt_number(losses[0])} -> {fmt_number(losses[-1])}); each epoch should do forward, "
            "loss, zero_grad, backward, step",
            details,
        )
    return Verdict(
        True,
        f"{entry} returned {epochs} Python floats, going down from {fmt_number(losses[0])} "
        f"to {fmt_number(losses[-1])}",
        details,
    )
