"""How well a model's predictions fit held-out targets, in the grader's process.

The predictions are the student's (a decoded tensor, or the output of the grader's own
rebuild of a trained network), so every shape and dtype is checked first: a metric
raises ``MetricError`` with a message for the student, never a torch error.

torch is imported inside functions: loading a course must not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grader.sandbox.protocol.values import MLPSpec, NetSpec

if TYPE_CHECKING:
    import torch

# metric -> (its name in messages, whether higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "mse": ("MSE", False),
    "accuracy": ("accuracy", True),
    "cross-entropy": ("cross-entropy", False),
}


class MetricError(Exception):
    """The predictions cannot be scored (wrong shape, not numbers): the message says why."""


def predict(spec: MLPSpec | NetSpec, state: dict[str, torch.Tensor], x: torch.Tensor) -> Any:
    """The grader's own copy of a bound network, with ``state`` loaded, applied to ``x``
    in eval mode without gradients. Raises RuntimeError or KeyError if the state does not
    fit the network."""
    import torch

    from grader.sandbox.protocol.mlp import MLP, Net  # defines torch modules

    net = (
        MLP([list(layer) for layer in spec.layers])
        if isinstance(spec, MLPSpec)
        else Net([list(layer) for layer in spec.layers])
    )
    net.load_state_dict(state)
    net.eval()
    with torch.no_grad():
        return net(x)


def _rows(predictions: torch.Tensor, targets: torch.Tensor) -> None:
    import torch

    if predictions.dim() == 0 or predictions.shape[0] != targets.shape[0]:
        shape = "x".join(map(str, predictions.shape)) or "one number"
        raise MetricError(
            f"the model gave predictions of shape {shape} for {targets.shape[0]} held-out rows"
        )
    if predictions.is_complex() or predictions.dtype == torch.bool:
        raise MetricError(f"the model's predictions are {str(predictions.dtype)[6:]}, not numbers")


def mse(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """The mean squared error; the predictions must have the targets' shape."""
    import torch

    _rows(predictions, targets)
    if predictions.shape != targets.shape:
        raise MetricError(
            f"the model's predictions have shape {list(predictions.shape)}, the targets "
            f"{list(targets.shape)}"
        )
    return float(torch.mean((predictions.float() - targets) ** 2))


def _classes(targets: torch.Tensor) -> torch.Tensor:
    """Class indices, from indices of shape [N] or [N, 1] (any numeric dtype)."""
    return targets.reshape(targets.shape[0], -1)[:, 0].long()


def accuracy(predictions: torch.Tensor, targets: torch.Tensor, threshold: float = 0.0) -> float:
    """The fraction of rows classified right. Predictions of shape [N, C] (C >= 2) are
    scores per class (the highest wins); of shape [N] or [N, 1], one score per row, class 1
    when it is above ``threshold`` (0 for logits, 0.5 for probabilities)."""
    _rows(predictions, targets)
    scores = predictions.reshape(predictions.shape[0], -1).float()
    if scores.shape[1] >= 2:
        chosen = scores.argmax(dim=1)
    elif scores.shape[1] == 1:
        chosen = (scores[:, 0] > threshold).long()
    else:
        raise MetricError("the model gave no score per row")
    return float((chosen == _classes(targets)).float().mean())


def cross_entropy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """The mean cross-entropy of logits: [N, C] against class indices, or [N] / [N, 1]
    (one logit per row) against 0/1 labels (binary, with logits)."""
    import torch.nn.functional as F

    _rows(predictions, targets)
    scores = predictions.reshape(predictions.shape[0], -1).float()
    classes = _classes(targets)
    if scores.shape[1] >= 2:
        if int(classes.min()) < 0 or int(classes.max()) >= scores.shape[1]:
            raise MetricError(
                f"the model gave {scores.shape[1]} scores per row, fewer than the classes"
            )
        return float(F.cross_entropy(scores, classes))
    if scores.shape[1] == 1:
        return float(F.binary_cross_entropy_with_logits(scores[:, 0], classes.float()))
    raise MetricError("the model gave no score per row")
