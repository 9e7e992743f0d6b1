"""What an instructor's Python imports: the API of custom judges, metric functions and
data helpers (``exercises/hidden/*.py``). Everything here is a re-export; this module is
the stable name, the places it points to may move. ``from grader.judge_api import ...``

A custom judge (``judge: custom``, ``with: {function: hidden/x.py:name}``) is
``name(ctx: JudgeContext) -> Verdict`` (or a ``(passed, message)`` pair). It runs in the
grader's process and sees the student's results only as decoded plain data.

Judging
    JudgeContext   what a judge sees. ``ctx.outputs``: the student's kept values
                   (``keep:``), decoded; ``ctx.expected``: the reference solution's, with
                   ``solution: true``, else None; ``ctx.inputs``: the values ``bind``
                   steps bound (an ``MLPSpec``, a tensor...); ``ctx.data``: the check's
                   hidden data (held-out sets included); ``ctx.opt(key, default)``: a
                   ``with:`` option (``ctx.opt("params")`` for a custom judge's own);
                   ``ctx.entry``: the entry point's name; ``ctx.source``: the student's
                   code as text (or None); ``ctx.where(line)``: "line 11" as the student
                   finds it; ``ctx.discloses("inputs" | "expected")``: whether messages may
                   show them. Other attributes are the grader's own.
    Verdict        ``Verdict(passed, message, details={}, fraction=None, figures=[],
                   lines=[])``: ``fraction`` gives partial credit (0..1), ``details`` is
                   shown in reports, ``lines`` are lines of the student's code to show.
    Unjudgeable    raise it with a message for the student when the check cannot be
                   decided (the check becomes an error, not a failure).

Values a judge sees (decoded; never live student objects)
    TensorValue    ``.data`` (a torch.Tensor), ``.cls``, ``.requires_grad``, ``.has_grad``
    ModuleValue    an nn.Module: ``.cls``, ``.training``, ``.params`` [(name, shape)],
                   ``.children`` [(name, class)], ``.state`` {key: TensorValue}
    OpaqueValue    anything else: ``.cls`` and ``.repr`` (text) only
    Numbers, text, None, lists, tuples and dicts arrive as themselves.

Networks that cross into the sandbox as data
    MLPSpec        ``bind: {mlp: [[name, in, out], ...]}``: Linear layers, ReLU between;
                   ``.layers`` and ``.state`` (the starting weights)
    NetSpec        named layers ``[name, kind, *args]`` of the kinds in ``LAYER_KINDS``
                   (Linear, Conv2d, MaxPool2d, AvgPool2d, BatchNorm1d/2d, Dropout,
                   Flatten, ReLU, Tanh, Sigmoid), run in order
    make_net       ``make_net(layers, seed) -> NetSpec``, seeded starting weights: what a
                   data helper returns under a key that a step binds (``{data: model}``)
    predict        ``predict(spec, state, x)``: the grader's own copy of an MLPSpec or
                   NetSpec network holding ``state``, applied to ``x`` (eval, no grad)

Scores (of decoded tensors; ``MetricError`` names a shape a metric cannot score)
    mse_of         ``mse_of(spec, state, x, y)``: the MSE of a bound network's weights
    mse, accuracy, cross_entropy
                   ``(predictions, targets) -> float``; ``accuracy(..., threshold=0.0)``:
                   [N, C] scores (argmax) or one score per row (class 1 above threshold);
                   ``cross_entropy``: logits against class indices (or 0/1 labels)

Messages
    fmt_number     a number as messages print it (6 significant digits, "nan", "inf")
    describe_value a short description of any decoded value ("tensor of shape [3] ...")
    as_numbers     a number, tensor or nested list of numbers as a float64 tensor (None
                   for anything else), to compare values across types
    value_problems ``value_problems(actual, expected, atol=, rtol=, reveal=)``: what is
                   wrong with any decoded value against the expected one, and details
    tensor_problems the same for a tensor, with keyword-only ``atol`` and ``rtol``
    find_forbidden ``find_forbidden(source, functions, names)``: per function, the uses
                   of forbidden names (``torch.autograd.grad``...) it reaches, with lines

A data helper (``data: hidden/x.py:name``) is ``name(seed: int) -> dict`` of tensors
(and ``NetSpec``s), the same for the same seed; only the keys that steps name with
``{data: key}`` are sent into the sandbox.
"""

from __future__ import annotations

from grader.judges.base import JudgeContext, Unjudgeable, Verdict
from grader.judges.compare import (
    as_numbers,
    describe_value,
    fmt_number,
    tensor_problems,
    value_problems,
)
from grader.judges.forbidden import find_forbidden
from grader.judges.metrics import MetricError, accuracy, cross_entropy, mse, predict
from grader.judges.training import mse_of
from grader.sandbox.protocol.mlp import LAYER_KINDS, make_net
from grader.sandbox.protocol.values import (
    MLPSpec,
    ModuleValue,
    NetSpec,
    OpaqueValue,
    TensorValue,
)

__all__ = [
    "LAYER_KINDS",
    "JudgeContext",
    "MLPSpec",
    "MetricError",
    "ModuleValue",
    "NetSpec",
    "OpaqueValue",
    "TensorValue",
    "Unjudgeable",
    "Verdict",
    "accuracy",
    "as_numbers",
    "cross_entropy",
    "describe_value",
    "find_forbidden",
    "fmt_number",
    "make_net",
    "mse",
    "mse_of",
    "predict",
    "tensor_problems",
    "value_problems",
]
