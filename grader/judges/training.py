"""``training``: the student's training function trains a model the grader gave it,
on data the student never saw; the grader then computes the trained model's MSE on a
held-out set that never entered the sandbox, and compares it with a target.

It judges the trained model only: what the function returns (the losses) is another
check's business, and a wrong return value is mentioned here without being charged."""

from __future__ import annotations

# torch is imported inside functions: loading a course must not pay for it.
import math
from typing import TYPE_CHECKING, Any

from grader.judges.base import Judge, JudgeContext, Verdict, register
from grader.judges.compare import describe_value, fmt_number
from grader.sandbox.protocol.values import MLPSpec, ModuleValue

if TYPE_CHECKING:
    import torch


def mse_of(
    spec: MLPSpec, state: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> float:
    import torch

    from grader.sandbox.protocol.mlp import MLP  # defines a torch.nn.Module, so imports torch

    net = MLP([list(layer) for layer in spec.layers])
    net.load_state_dict(state)
    net.eval()
    with torch.no_grad():
        return float(torch.mean((net(x) - y) ** 2))


def _floats(values: Any) -> bool:
    return isinstance(values, list) and bool(values) and all(isinstance(v, float) for v in values)


@register
class Training(Judge):
    name = "training"
    recordable = False
    references = {
        "model": (("bound", "kept"), "model"),
        "losses": (("kept",), "result"),
        "x": (("data",), "X_test"),
        "y": (("data",), "y_test"),
    }
    # ``solution: true`` also trains with the reference solution, whose loss curve the
    # report draws next to the student's when the exercise discloses "expected".
    options = {
        "model": "text",
        "losses": "text",
        "x": "text",
        "y": "text",
        "target_mse": "number",
        "epochs": "number",
        "solution": "flag",
    }

    def judge(self, ctx: JudgeContext) -> Verdict:
        import torch

        model_name = ctx.opt("model", "model")
        spec = ctx.inputs.get(model_name)
        assert isinstance(spec, MLPSpec), (
            "the training judge needs the model bound with `bind: {mlp: ...}`"
        )
        x, y = ctx.data[ctx.opt("x", "X_test")], ctx.data[ctx.opt("y", "y_test")]
        target = float(ctx.opt("target_mse"))
        trained = ctx.outputs.get(model_name)
        losses_name = ctx.opt("losses", "result")
        losses = ctx.outputs.get(losses_name)
        before = mse_of(spec, spec.state, x, y)
        details: dict[str, Any] = {
            "target_mse": fmt_number(target),
            "mse_before_training": fmt_number(before),
            "held_out_variance": fmt_number(float(y.var(unbiased=False))),
        }
        if not isinstance(trained, ModuleValue):
            return Verdict(
                False, f"{ctx.entry}: the model could not be read back after training", details
            )
        try:
            state = {k: v.data for k, v in trained.state.items()}
            after = mse_of(spec, state, x, y)
        except (RuntimeError, KeyError) as exc:
            return Verdict(
                False, f"{ctx.entry}: the trained model's weights no longer fit it ({exc})", details
            )
        details["mse_after_training"] = fmt_number(after)
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
                    "target": target,
                    "target_label": f"target held-out MSE {fmt_number(target)}",
                }
            ]
            if curve
            else []
        )
        unchanged = all(torch.equal(state[k], v) for k, v in spec.state.items() if k in state)
        if not math.isfinite(after) or after > target:
            advice = self.advice(unchanged, curve)
            return Verdict(
                False,
                f"{ctx.entry}: after training, the model's MSE on held-out data is "
                f"{fmt_number(after)}; the target is {fmt_number(target)} (before training it was "
                f"{fmt_number(before)}). {advice}".strip(),
                details,
                figures=figures,
            )
        # This check judges how well the model learned. What train returns is judged by
        # the check that names it; here it is said in passing, never charged twice.
        aside = f" (the loss curve is not drawn: {'; '.join(problems)})" if problems else ""
        return Verdict(
            True,
            f"{ctx.entry}: held-out MSE {fmt_number(after)} is under the target "
            f"{fmt_number(target)}{aside}",
            details,
        )

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
