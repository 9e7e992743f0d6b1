"""``module``: an ``nn.Module`` the student built has the reference solution's
parameters (names and shapes), is in the expected train/eval mode, and, with
``state_from``, holds exactly the weights it was given."""

from __future__ import annotations

from grader.judges.base import Judge, JudgeContext, Verdict, output, register
from grader.judges.compare import describe_value, tensor_problems
from grader.sandbox.protocol.values import MLPSpec, ModuleValue


@register
class Module(Judge):
    name = "module"
    needs_solution = True
    options = {"output": "text", "structure": "flag", "training": "flag", "state_from": "text"}
    references = {"output": (("kept",), "model"), "state_from": (("bound",), None)}

    def judge(self, ctx: JudgeContext) -> Verdict:
        name, actual = output(ctx, default="model")
        if not isinstance(actual, ModuleValue):
            return Verdict(
                False, f"{ctx.entry}: got {describe_value(actual)}; expected a torch.nn.Module"
            )
        problems = []
        details = {"parameters": [f"{n} {list(s)}" for n, s in actual.params]}
        if ctx.opt("structure", True):
            assert ctx.expected is not None
            expected = ctx.expected[name]
            want = dict(expected.params)
            have = dict(actual.params)
            for pname, shape in want.items():
                if pname not in have:
                    problems.append(f"no parameter '{pname}' (expected shape {list(shape)})")
                elif have[pname] != shape:
                    problems.append(
                        f"'{pname}' has shape {list(have[pname])}; expected {list(shape)}"
                    )
            extra = [p for p in have if p not in want]
            if extra:
                problems.append(f"unexpected parameters {', '.join(extra[:4])}")
            details["expected_parameters"] = [f"{n} {list(s)}" for n, s in expected.params]
        if "training" in ctx.check.options and actual.training != ctx.opt("training"):
            mode = "training" if actual.training else "eval"
            fix = (
                "call model.eval() before returning it"
                if actual.training
                else "it should be in training mode"
            )
            problems.append(f"the model is in {mode} mode; {fix}")
        source = ctx.opt("state_from")
        if source:
            given = ctx.inputs.get(source)
            assert isinstance(given, MLPSpec), f"state_from '{source}' must name a bound mlp input"
            for key, tensor in given.state.items():
                if key not in actual.state:
                    problems.append(f"the model has no '{key}'")
                    continue
                p, _ = tensor_problems(
                    actual.state[key], tensor, atol=0.0, rtol=0.0, where=key, reveal=False
                )
                if p:
                    problems.append(
                        f"'{key}' does not hold the saved weights ({p[0].split(': ', 1)[-1]})"
                    )
        if problems:
            return Verdict(False, f"{ctx.entry}: " + "; ".join(problems[:4]), details)
        said = []
        if ctx.opt("structure", True):
            said.append("with the expected layers")
        if "training" in ctx.check.options:
            said.append("in training mode" if ctx.opt("training") else "in eval mode")
        if source:
            said.append("holding the weights it was given")
        return Verdict(
            True,
            f"{ctx.entry} gave a {actual.cls.rsplit('.', 1)[-1]} {', '.join(said)}".rstrip(),
            details,
        )
