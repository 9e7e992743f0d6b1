"""``training``: the student's training function trains a model on data the student
never saw; the grader then scores the trained model on a held-out set and compares the
score with a target.

The metric (``metric:``): ``mse`` (the default), ``accuracy``, ``cross-entropy``, or a
function of the course's hidden helpers (``hidden/x.py:fn``, called here in the grader's
process as ``fn(predictions, targets) -> float``, lower is better unless ``better:
higher``). The target: ``target`` (or ``target_mse``, the older name, for ``mse``).

The model, and where the held-out predictions come from:

- a network the grader hands over, bound by a step (``bind: {mlp: ...}``, or ``bind:
  {data: model}`` where the check's data helper returns a ``NetSpec`` made with
  ``judge_api.make_net``: Conv2d/Linear/ReLU/Flatten... layers as plain data). The
  trained weights come back as a state_dict; the grader loads them into its own copy of
  the network and predicts the held-out rows itself: nothing held out enters the
  sandbox (``plan`` refuses a check that sends ``x`` or ``y`` there).
- a class the student defines (an entry point the steps call, ``call: Net``). The grader
  cannot rebuild it without running student code, so a later step of the same sandboxed
  call applies the trained model to the held-out inputs (``call: model, args: [{data:
  X_test}]``) and the check names that output (``predictions:``). Only the held-out X
  crosses, never y: the expected answers stay in the grader, which scores the decoded
  predictions. Knowing X without y gives a student nothing to copy (docs/security.md).

It judges the trained model only: what the function returns (the losses) is another
check's business, and a wrong return value is mentioned here without being charged.

A factory given as a helper's *code* would have to run in the sandbox, which would put a
hidden file there; an architecture given as data (``NetSpec``) does not.
"""

from __future__ import annotations

# torch is imported inside functions: loading a course must not pay for it.
import math
from typing import TYPE_CHECKING, Any

from grader.course.schema import Mapping
from grader.judges.base import Judge, JudgeContext, Verdict, register
from grader.judges.compare import describe_value, fmt_number
from grader.judges.metrics import (
    METRICS,
    MetricError,
    accuracy,
    cross_entropy,
    mse,
    predict,
)
from grader.sandbox.protocol.values import MLPSpec, ModuleValue, NetSpec, TensorValue

if TYPE_CHECKING:
    import torch


def mse_of(
    spec: MLPSpec | NetSpec, state: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> float:
    """The MSE on (x, y) of the bound network ``spec`` holding the weights ``state``."""
    import torch

    return float(torch.mean((predict(spec, state, x) - y) ** 2))


def _floats(values: Any) -> bool:
    return isinstance(values, list) and bool(values) and all(isinstance(v, float) for v in values)


class _Score:
    """The check's metric: its name in messages, its direction, how it is computed."""

    def __init__(self, ctx: JudgeContext) -> None:
        metric = str(ctx.opt("metric", "mse"))
        self.fn: Any = None
        if metric in METRICS:
            self.label, self.higher = METRICS[metric]
            self.key = metric.replace("-", "_")
        else:
            from grader.course.helpers import helper_function

            self.fn = helper_function(metric, ctx.exercise.root)
            self.label = metric.partition(":")[2]
            self.higher = ctx.opt("better", "lower") == "higher"
            self.key = "metric"
        self.metric = metric
        self.threshold = float(ctx.opt("threshold", 0.0))

    def __call__(self, predictions: torch.Tensor, targets: torch.Tensor) -> float:
        if self.metric == "mse":
            return mse(predictions, targets)
        if self.metric == "accuracy":
            return accuracy(predictions, targets, self.threshold)
        if self.metric == "cross-entropy":
            return cross_entropy(predictions, targets)
        value = self.fn(predictions.float(), targets)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"the metric {self.metric} returned {describe_value(value)}")
        return float(value)

    def misses(self, value: float, target: float) -> bool:
        if not math.isfinite(value):
            return True
        return value < target if self.higher else value > target


@register
class Training(Judge):
    name = "training"
    recordable = False
    references = {
        "model": (("bound", "kept"), "model"),
        "losses": (("kept",), "result"),
        "x": (("data",), "X_test"),
        "y": (("data",), "y_test"),
        "predictions": (("kept",), None),
    }
    # ``solution: true`` also trains with the reference solution, whose loss curve the
    # report draws next to the student's when the exercise discloses "expected".
    options = {
        "model": "text",
        "losses": "text",
        "x": "text",
        "y": "text",
        "metric": "text",
        "target": "number",
        "target_mse": "number",
        "better": "one of higher|lower",
        "threshold": "number",
        "predictions": "text",
        "epochs": "number",
        "solution": "flag",
    }

    @classmethod
    def validate_options(cls, m: Mapping) -> None:
        super().validate_options(m)
        metric = m.raw("metric", "mse")
        if metric not in METRICS and ":" not in str(metric):
            raise m.error(
                "metric",
                f"expected {', '.join(METRICS)} or a helper function (hidden/file.py:name), "
                f"got '{metric}'",
            )
        if m.has("target") == m.has("target_mse"):
            raise m.error("target", "give the held-out target as 'target' (or 'target_mse')")
        if m.has("target_mse") and metric != "mse":
            raise m.error(
                "target_mse", f"'target_mse' is for metric mse; use 'target' for {metric}"
            )
        if m.has("better") and metric in METRICS:
            raise m.error("better", f"'better' is for a helper's metric; {metric} has its own")

    def judge(self, ctx: JudgeContext) -> Verdict:
        model_name = ctx.opt("model", "model")
        spec = ctx.inputs.get(model_name)
        pred_name = ctx.opt("predictions")
        assert isinstance(spec, (MLPSpec, NetSpec)) or pred_name, (
            "the training judge needs the model bound by a step (`bind: {mlp: ...}` or a "
            "NetSpec from the data helper), or the student's model's held-out predictions "
            "named by `predictions`"
        )
        score = _Score(ctx)
        x, y = ctx.data[ctx.opt("x", "X_test")], ctx.data[ctx.opt("y", "y_test")]
        target = float(ctx.opt("target", ctx.opt("target_mse")))
        trained = ctx.outputs.get(model_name)
        losses_name = ctx.opt("losses", "result")
        losses = ctx.outputs.get(losses_name)
        key = score.key
        details: dict[str, Any] = {f"target_{key}": fmt_number(target)}
        before = None
        if isinstance(spec, (MLPSpec, NetSpec)):
            before = score(predict(spec, spec.state, x), y)
            details[f"{key}_before_training"] = fmt_number(before)
        if score.metric == "mse":
            details["held_out_variance"] = fmt_number(float(y.var(unbiased=False)))
        state: dict[str, Any] = {}
        if isinstance(trained, ModuleValue):
            state = {k: v.data for k, v in trained.state.items()}
        if pred_name:
            predictions = ctx.outputs.get(pred_name)
            if not isinstance(predictions, TensorValue):
                return Verdict(
                    False,
                    f"{ctx.entry}: the trained model's output on held-out data should be a "
                    f"tensor, and is {describe_value(predictions)}",
                    details,
                )
            try:
                after = score(predictions.data, y)
            except MetricError as exc:
                return Verdict(False, f"{ctx.entry}: {exc}", details)
        else:
            assert isinstance(spec, (MLPSpec, NetSpec))
            if not isinstance(trained, ModuleValue):
                return Verdict(
                    False, f"{ctx.entry}: the model could not be read back after training", details
                )
            try:
                after = score(predict(spec, state, x), y)
            except (RuntimeError, KeyError) as exc:
                return Verdict(
                    False,
                    f"{ctx.entry}: the trained model's weights no longer fit it ({exc})",
                    details,
                )
        details[f"{key}_after_training"] = fmt_number(after)
        curve: list[Any] = []
        problems = self.loss_problems(losses, int(ctx.opt("epochs", 0)), curve)
        reference = (
            ctx.expected.get(losses_name) if ctx.expected and ctx.discloses("expected") else None
        )
        figures = (
            [
                {
                    "kind": "losses",
                    "title": f"{ctx.entry}: training loss per epoch",
                    "losses": curve,
                    "reference": reference if _floats(reference) else None,
                    # A score where higher is better is not on the loss's scale.
                    "target": None if score.higher else target,
                    "target_label": f"target held-out {score.label} {fmt_number(target)}",
                }
            ]
            if curve
            else []
        )
        if score.misses(after, target):
            advice = self.advice(self.unchanged(spec, state, curve), curve)
            was = f" (before training it was {fmt_number(before)})" if before is not None else ""
            return Verdict(
                False,
                f"{ctx.entry}: after training, the model's {score.label} on held-out data is "
                f"{fmt_number(after)}; the target is {fmt_number(target)}{was}. {advice}".strip(),
                details,
                figures=figures,
            )
        # This check judges how well the model learned. What train returns is judged by
        # the check that names it; here it is said in passing, never charged twice.
        aside = f" (the loss curve is not drawn: {'; '.join(problems)})" if problems else ""
        return Verdict(
            True,
            f"{ctx.entry}: held-out {score.label} {fmt_number(after)} "
            f"{'reaches' if score.higher else 'is under'} the target {fmt_number(target)}"
            f"{aside}",
            details,
        )

    @staticmethod
    def unchanged(spec: Any, state: dict[str, Any], curve: list[Any]) -> bool:
        """Whether training left the weights as they were: compared with the bound
        network's, or (a student's own class, whose first weights the grader never saw)
        told by a loss that never moved, as full-batch training without step() gives."""
        import torch

        if isinstance(spec, (MLPSpec, NetSpec)) and state:
            return all(torch.equal(state[k], v) for k, v in spec.state.items() if k in state)
        return len(curve) > 1 and all(v == curve[0] for v in curve)

    @staticmethod
    def loss_problems(losses: Any, epochs: int, curve: list[Any]) -> list[str]:
        """What is wrong with the returned losses; fills ``curve`` with them, as drawn."""
        if not isinstance(losses, list):
            return [
                "train should return the list of per-epoch losses, and returned "
                f"{describe_value(losses)}"
            ]
        if not all(isinstance(v, float) for v in losses):
            kinds = sorted(
                {describe_value(v).split(" of ")[0] for v in losses if not isinstance(v, float)}
            )
            return [
                "the losses should be Python floats (use loss.item()), "
                f"found {', '.join(kinds[:2])}"
            ]
        curve += [round(v, 6) if math.isfinite(v) else str(v) for v in losses[:2000]]
        if epochs and len(losses) != epochs:
            return [f"train returned {len(losses)} losses for {epochs} epochs"]
        return []

    @staticmethod
    def advice(unchanged: bool, losses: list[Any]) -> str:
        if unchanged:
            return (
                "The weights did not change at all: every epoch needs zero_grad(), then "
                "loss.backward(), then optimizer.step(), in that order."
            )
        floats = [v for v in losses if isinstance(v, float)]
        if len(floats) > 10 and min(floats[len(floats) // 2 :]) > 0.5 * floats[0]:
            return (
                "The loss barely went down: check that optimizer.zero_grad() is called "
                "every epoch, before loss.backward()."
            )
        if len(floats) > 10 and floats[-1] > min(floats) * 3:
            return (
                "The loss went down, then up again: gradients may be piling up; call "
                "optimizer.zero_grad() every epoch."
            )
        return "Check the order forward, loss, zero_grad, backward, step."
