"""``state-dict-file``: a file the student's code saved holds the model's state_dict:
the same names and tensors. The file is read inside the sandbox by a process with no
student code loaded, with ``torch.load(weights_only=True)``, and reaches the grader as
safetensors; the grader never unpickles it."""

from __future__ import annotations

from grader.judges.base import Judge, JudgeContext, Verdict, register
from grader.judges.compare import tensor_problems
from grader.sandbox.protocol.values import MLPSpec


@register
class StateDictFile(Judge):
    name = "state-dict-file"
    options = {"artifact": "text", "model": "text"}
    references = {"artifact": (("artifact",), "saved"), "model": (("bound",), "model")}

    def judge(self, ctx: JudgeContext) -> Verdict:
        artifact = ctx.opt("artifact", "saved")
        saved = ctx.artifacts.get(artifact)
        if isinstance(saved, str) or saved is None:
            reason = saved or "nothing was saved"
            return Verdict(
                False,
                f"{ctx.entry}: the saved file is not a state_dict: {reason}. Save "
                "model.state_dict() with torch.save, not the model object",
            )
        given = ctx.inputs.get(ctx.opt("model", "model"))
        assert isinstance(given, MLPSpec)
        problems = []
        missing = [k for k in given.state if k not in saved]
        extra = [k for k in saved if k not in given.state]
        if missing:
            problems.append(f"the file has no {', '.join(missing[:4])}")
        if extra:
            problems.append(f"the file has unexpected entries {', '.join(extra[:4])}")
        for key, tensor in given.state.items():
            if key in saved:
                p, _ = tensor_problems(
                    saved[key], tensor, atol=0.0, rtol=0.0, where=key, reveal=False
                )
                problems += p
        details = {"saved_keys": sorted(saved)[:20]}
        if problems:
            return Verdict(False, f"{ctx.entry}: " + "; ".join(problems[:3]), details)
        return Verdict(
            True, f"{ctx.entry} saved the model's state_dict ({len(saved)} tensors)", details
        )
