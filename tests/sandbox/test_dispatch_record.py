"""The sandbox's run-time record (issue 17): which library operators each spelling of a
call dispatches, as the runner's DispatchRecorder records them on real torch calls, and
the record as it crosses the boundary (sorted, capped, read strictly by the grader)."""

from __future__ import annotations

import importlib
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from grader.judges.forbidden import RUN_TIME
from grader.sandbox.inside.runner import DispatchRecorder, perform_steps
from grader.sandbox.protocol.values import (
    DISPATCHED,
    MAX_OP_NAME,
    MAX_OPS,
    InputEncoder,
    WireError,
    dispatched_data,
    read_dispatched,
)

FORBIDDEN = {op for _, ops in RUN_TIME.values() for op in ops}
LIB = importlib.import_module("to" + "rch")


def record(fn) -> set[str]:
    x = torch.randn(4, 5, requires_grad=True)
    recorder = DispatchRecorder()
    with recorder:
        fn(x)
    return recorder.seen


SPELLINGS = {  # each way of reaching the library's function -> the operator recorded
    "torch.relu": (torch.relu, "aten.relu"),
    "F.relu": (F.relu, "aten.relu"),
    "Tensor.relu": (lambda x: x.relu(), "aten.relu"),
    "nn.ReLU": (lambda x: torch.nn.ReLU()(x), "aten.relu"),
    "nn.ReLU(inplace=True)": (lambda x: torch.nn.ReLU(inplace=True)(x * 1), "aten.relu_"),
    "torch.relu_": (lambda x: torch.relu_(x * 1), "aten.relu_"),
    "torch.ops.aten.relu": (torch.ops.aten.relu, "aten.relu"),
    "importlib + getattr": (lambda x: getattr(LIB, "re" + "lu")(x), "aten.relu"),
    "torch.sigmoid": (torch.sigmoid, "aten.sigmoid"),
    "F.sigmoid": (F.sigmoid, "aten.sigmoid"),
    "torch.special.expit": (torch.special.expit, "aten.sigmoid"),
    "Tensor.sigmoid": (lambda x: x.sigmoid(), "aten.sigmoid"),
    "nn.Sigmoid": (lambda x: torch.nn.Sigmoid()(x), "aten.sigmoid"),
    "torch.tanh": (torch.tanh, "aten.tanh"),
    "F.tanh": (F.tanh, "aten.tanh"),
    "nn.Tanh": (lambda x: torch.nn.Tanh()(x), "aten.tanh"),
    "Tensor.tanh_": (lambda x: (x * 1).tanh_(), "aten.tanh_"),
    "F.softmax": (lambda x: F.softmax(x, dim=1), "aten._softmax"),
    "F.mse_loss": (lambda x: F.mse_loss(x, torch.zeros_like(x)), "aten.mse_loss"),
}


@pytest.mark.parametrize("name", SPELLINGS)
def test_every_spelling_of_the_library_function_records_its_operator(name: str):
    fn, op = SPELLINGS[name]
    assert op in record(fn)


HONEST = {  # elementary operations that compute the same values -> what they dispatch
    "torch.maximum": (lambda x: torch.maximum(x, torch.zeros_like(x)), "aten.maximum"),
    "torch.clamp": (lambda x: torch.clamp(x, min=0.0), "aten.clamp"),
    "torch.where": (lambda x: torch.where(x > 0, x, 0.0), "aten.where"),
    "exp and division": (lambda x: 1 / (1 + torch.exp(-x)), "aten.exp"),
    "stable sigmoid": (
        lambda x: torch.where(
            x >= 0, 1 / (1 + torch.exp(-x.abs())), torch.exp(-x.abs()) / (1 + torch.exp(-x.abs()))
        ),
        "aten.abs",
    ),
    "tanh from exp": (lambda x: (1 - torch.exp(-2 * x)) / (1 + torch.exp(-2 * x)), "aten.div"),
    "softmax from exp": (lambda x: x.exp() / x.exp().sum(1, keepdim=True), "aten.sum"),
}


@pytest.mark.parametrize("name", HONEST)
def test_elementary_operations_record_no_forbidden_operator(name: str):
    fn, op = HONEST[name]
    seen = record(fn)
    assert op in seen and not seen & FORBIDDEN, sorted(seen)


def test_the_backward_of_honest_code_records_no_forbidden_operator():
    x = torch.randn(6, requires_grad=True)
    recorder = DispatchRecorder()
    with recorder:
        y = torch.where(x >= 0, 1 / (1 + torch.exp(-x.abs())), 1 - 1 / (1 + torch.exp(-x.abs())))
        torch.autograd.grad(y.sum(), x)
    assert not recorder.seen & FORBIDDEN and "aten.exp" in recorder.seen


def test_only_the_aten_namespace_is_recorded():
    seen = record(lambda x: torch.ops.aten.add(x, torch.ops.prims.mul(x, x)))
    assert seen and all(op.startswith("aten.") for op in seen)


def student_module() -> types.ModuleType:
    module = types.ModuleType("activations")
    module.relu = lambda x: getattr(LIB, "re" + "lu")(x)
    return module


def test_the_runner_records_the_steps_that_run_student_code(tmp_path: Path):
    encoder = InputEncoder()
    value = encoder.encode(torch.randn(5, requires_grad=True))
    call = {
        "steps": [
            {"do": "bind", "value": value, "as": "x"},
            {"do": "call", "target": "relu", "args": [{"t": "ref", "name": "x"}], "as": "y"},
            {"do": "grad", "of": "y", "wrt": "x", "as": "dx"},
        ]
    }
    recorder = DispatchRecorder()
    env = perform_steps(student_module(), call, encoder.tensors, tmp_path, recorder)
    assert torch.equal(env["y"], torch.relu(env["x"]))
    assert {"aten.relu", "aten.threshold_backward"} <= recorder.seen
    record = recorder.record()
    assert list(record) == [DISPATCHED] and record[DISPATCHED] == sorted(recorder.seen)
    assert read_dispatched(record) == frozenset(recorder.seen)


def test_without_a_recorder_nothing_is_recorded(tmp_path: Path):
    call = {"steps": [{"do": "eval", "expr": "relu(torch.ones(2))", "as": "y"}]}
    env = perform_steps(student_module(), call, {}, tmp_path)
    assert env["y"].tolist() == [1.0, 1.0]


def test_the_record_is_sorted_and_capped():
    names = {f"aten.op{i:05d}" for i in range(MAX_OPS + 10)} | {"aten." + "x" * 500}
    data = dispatched_data(names)
    assert len(data) == MAX_OPS and data == sorted(data)
    assert all(len(n) <= MAX_OP_NAME for n in data)


@pytest.mark.parametrize(
    "bad",
    [
        "aten.relu",
        {"aten.relu": 1},
        [1],
        [None],
        ["a" * (MAX_OP_NAME + 1)],
        ["aten.add"] * (MAX_OPS + 1),
    ],
)
def test_the_grader_reads_the_record_strictly(bad: object):
    with pytest.raises(WireError, match="malformed run-time record"):
        read_dispatched({"status": "ok", DISPATCHED: bad})


def test_a_record_without_one_is_none():
    assert read_dispatched({"status": "ok", "values": {}}) is None
    assert read_dispatched(None) is None
