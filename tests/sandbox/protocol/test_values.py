"""grader/sandbox/protocol/values.py: every tag round-trips in both directions through real JSON
and a real safetensors file, and decoding what a sandbox returned raises WireError and
nothing else, whatever the JSON holds."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load, save

from grader.sandbox.protocol import values
from grader.sandbox.protocol.mlp import MLP
from grader.sandbox.protocol.values import (
    INPUT,
    OUTPUT,
    Lambda,
    MLPSpec,
    ModuleValue,
    OpaqueValue,
    Ref,
    TensorValue,
    WireError,
    WorkPath,
    decode_input,
    decode_outputs,
    encode_outputs,
)


def tags_in(spec: Any) -> set[str]:
    """Every tag used in an encoded value."""
    found: set[str] = set()
    stack = [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("t"), str):
                found.add(node["t"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def through_files(
    specs: Any, tensors: dict[str, torch.Tensor]
) -> tuple[Any, dict[str, torch.Tensor]]:
    """What the receiver gets: the JSON as text, the tensors as a safetensors file."""
    return json.loads(json.dumps(specs, allow_nan=True)), load(save(tensors)) if tensors else {}


# ------------------------------------------------------------------ inputs: grader -> sandbox
def send(value: Any, env: dict | None = None) -> tuple[Any, dict]:
    encoder = values.InputEncoder()
    spec = encoder.encode(value)
    spec, tensors = through_files(spec, encoder.tensors)
    return decode_input(spec, env or {}, tensors), spec


def test_inputs_round_trip_every_input_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    seen: set[str] = set()

    def check(value: Any, env: dict | None = None) -> Any:
        got, spec = send(value, env)
        seen.update(tags_in(spec))
        return got

    assert check(None) is None
    assert check(True) is True
    assert check(7) == 7 and type(check(7)) is int
    assert check(2.5) == 2.5
    assert check("héllo") == "héllo"
    x = torch.randn(3, 2, requires_grad=True)
    got = check(x)
    assert torch.equal(got, x.detach()) and got.requires_grad and got is not x
    assert check(torch.Size([2, 3])) == torch.Size([2, 3])
    assert check([1, (2, 3)]) == [1, (2, 3)]
    assert check((1, "a")) == (1, "a")
    assert check({"a": 1, 2: [3]}) == {"a": 1, 2: [3]}
    assert check(Lambda("v: v * 2"))(torch.tensor(3.0)) == 6.0
    bound = torch.ones(2)
    assert check(Ref("model"), {"model": bound}) is bound
    assert check(WorkPath("model.pt")) == str(tmp_path / "model.pt")
    spec = MLPSpec(
        [("fc1", 3, 4), ("out", 4, 1)],
        {
            "fc1.weight": torch.randn(4, 3),
            "fc1.bias": torch.zeros(4),
            "out.weight": torch.randn(1, 4),
            "out.bias": torch.zeros(1),
        },
    )
    net = check(spec)
    assert isinstance(net, MLP) and torch.equal(net.fc1.weight.detach(), spec.state["fc1.weight"])
    assert seen == set(values.RECEIVING[INPUT]), "every input tag needs a case here"


def test_inputs_keep_the_grader_encoding() -> None:
    """A named tuple travels as a list, a bool as a bool (not an int); what cannot be
    sent is refused by name."""
    from collections import namedtuple

    pair = namedtuple("pair", "a b")
    assert values.InputEncoder().encode(pair(1, 2))["t"] == "list"
    assert values.InputEncoder().encode(True) == {"t": "bool", "v": True}
    with pytest.raises(TypeError, match="cannot send a set"):
        values.InputEncoder().encode({1})


# ------------------------------------------------------------------ outputs: sandbox -> grader
def returned(value: Any) -> tuple[Any, dict]:
    specs, tensors = encode_outputs({"result": value})
    specs, tensors = through_files(specs, tensors)
    return decode_outputs(specs, tensors)["result"], specs["result"]


class Loud:
    def __repr__(self) -> str:
        raise RuntimeError("no")


def test_outputs_round_trip_every_output_tag() -> None:
    seen: set[str] = set()

    def check(value: Any) -> Any:
        got, spec = returned(value)
        seen.update(tags_in(spec))
        return got

    assert check(None) is None
    assert check(False) is False
    assert check(-3) == -3
    assert check(2**70) == float(2**70)  # beyond int64: kept as a float
    assert math.isnan(check(float("nan"))) and check(float("inf")) == math.inf
    assert check("x" * 5000) == "x" * values.MAX_TEXT
    assert check(torch.Size([4, 0])) == torch.Size([4, 0])
    assert check([1, [2.0]]) == [1, [2.0]]
    assert check((1, None)) == (1, None)
    assert check({"k": (1,)}) == {"k": (1,)}
    keyed = check({torch.ones(1): 1})
    assert isinstance(keyed, OpaqueValue) and "non-hashable" in keyed.repr

    leaf = torch.randn(2, 3, requires_grad=True)
    leaf.grad = torch.ones(2, 3)
    got = check(leaf)
    assert isinstance(got, TensorValue) and torch.equal(got.data, leaf.detach())
    assert (got.exact, got.requires_grad, got.has_grad, got.cls) == (
        True,
        True,
        True,
        "torch.Tensor",
    )
    sparse = check(torch.eye(2).to_sparse())
    assert torch.equal(sparse.data, torch.eye(2))

    class Sub(torch.Tensor):
        pass

    sub = check(torch.zeros(2).as_subclass(Sub))
    assert sub.exact is False and sub.cls.endswith("Sub") and type(sub.data) is torch.Tensor

    layer = torch.nn.Linear(3, 2).eval()
    module = check(layer)
    assert isinstance(module, ModuleValue) and module.cls == "torch.nn.modules.linear.Linear"
    assert module.training is False and module.params == [("weight", (2, 3)), ("bias", (2,))]
    assert torch.equal(module.state["weight"].data, layer.weight.detach())

    class Wider(torch.nn.Linear):
        pass

    sub_module = check(Wider(1, 1))
    assert sub_module.cls.endswith("Wider")
    assert sub_module.mro[1:] == [
        "torch.nn.modules.linear.Linear",
        "torch.nn.modules.module.Module",
        "builtins.object",
    ]

    raised = check(values.Raised("ValueError", "x" * 5000))
    assert raised == values.Raised("ValueError", "x" * values.MAX_TEXT)

    opaque = check(Loud())
    assert isinstance(opaque, OpaqueValue) and opaque.repr == "<unprintable>"
    assert seen == set(values.RECEIVING[OUTPUT]), "every output tag needs a case here"


def test_outputs_take_exact_types_and_cap_depth() -> None:
    """A numpy float or an int subclass is an object (judges expect plain types), and
    a value nested deeper than the sandbox keeps becomes an object."""
    import numpy

    assert isinstance(returned(numpy.float64(1.5))[0], OpaqueValue)

    class MyInt(int):
        pass

    assert isinstance(returned(MyInt(3))[0], OpaqueValue)
    deep: Any = 0
    for _ in range(40):
        deep = [deep]
    got, _ = returned(deep)
    for _ in range(values.MAX_ENCODE_DEPTH):
        got = got[0]
    assert isinstance(got[0], OpaqueValue) and got[0].repr == "<nested too deeply>"


# ------------------------------------------------------------------ hostile outputs
T = {"t": "tensor", "key": "v0"}
TENSORS = {"v0": torch.zeros(2)}
MODULE = {
    "t": "module",
    "class": "M",
    "training": True,
    "params": [["w", [2, 3]]],
    "children": [["fc", "torch.nn.Linear"]],
    "state": {"w": T},
}

MALFORMED: dict[str, list[tuple[Any, str]]] = {
    "value": [
        (None, "malformed value"),
        ([], "malformed value"),
        ({"t": 3}, "malformed value"),
        ({"v": 1}, "malformed value"),
    ],
    "unknown": [
        ({"t": "pickle"}, "unknown value tag"),
        # input-only tags never come back: the grader evaluates and binds nothing
        ({"t": "lambda", "src": "v: v"}, "unknown value tag"),
        ({"t": "ref", "name": "x"}, "unknown value tag"),
        ({"t": "path", "v": "/etc/passwd"}, "unknown value tag"),
        ({"t": "mlp", "layers": []}, "unknown value tag"),
    ],
    "bool": [({"t": "bool"}, "malformed bool"), ({"t": "bool", "v": 1}, "malformed bool")],
    "int": [
        ({"t": "int", "v": True}, "malformed int"),
        ({"t": "int", "v": 1.5}, "malformed int"),
        ({"t": "int", "v": "1"}, "malformed int"),
    ],
    "float": [
        ({"t": "float", "v": "nan"}, "malformed float"),
        ({"t": "float", "v": False}, "malformed float"),
        ({"t": "float", "v": 10**400}, "malformed float"),
    ],
    "str": [({"t": "str", "v": 1}, "malformed str"), ({"t": "str"}, "malformed str")],
    "size": [
        ({"t": "size", "v": [2, "x"]}, "malformed size"),
        ({"t": "size", "v": [-1]}, "malformed size"),
        ({"t": "size", "v": [2**64]}, "malformed size"),
        ({"t": "size", "v": 3}, "malformed size"),
        ({"t": "size", "v": [True]}, "malformed size"),
    ],
    "list": [({"t": "list", "items": {}}, "malformed list"), ({"t": "list"}, "malformed list")],
    "tuple": [({"t": "tuple", "items": "ab"}, "malformed tuple")],
    "dict": [
        ({"t": "dict", "items": [[{"t": "none"}]]}, "malformed dict"),
        ({"t": "dict", "items": {"a": 1}}, "malformed dict"),
    ],
    "tensor": [
        ({"t": "tensor"}, "missing from the results file"),
        ({"t": "tensor", "key": "v9"}, "missing from the results file"),
        ({"t": "tensor", "key": ["v0"]}, "missing from the results file"),
        ({**T, "class": 5}, "malformed tensor class"),
        ({**T, "exact": "yes"}, "malformed tensor"),
        ({**T, "requires_grad": 1}, "malformed tensor"),
        ({**T, "has_grad": None}, "malformed tensor"),
    ],
    "module": [
        ({**MODULE, "state": []}, "malformed module"),
        ({**MODULE, "params": [["w", [2, "x"]]]}, "malformed module parameters"),
        ({**MODULE, "params": [["w", [-1]]]}, "malformed module parameters"),
        ({**MODULE, "params": [["w", 3]]}, "malformed module parameters"),
        ({**MODULE, "params": [[1, [2]]]}, "malformed module parameters"),
        ({**MODULE, "params": "w"}, "malformed module parameters"),
        ({**MODULE, "children": [["fc"]]}, "malformed module children"),
        ({**MODULE, "children": [["fc", 3]]}, "malformed module children"),
        ({**MODULE, "class": ["M"]}, "malformed module class"),
        ({**MODULE, "training": "no"}, "malformed module"),
        ({**MODULE, "mro": "M"}, "malformed module classes"),
        ({**MODULE, "mro": ["M", 3]}, "malformed module classes"),
        ({**MODULE, "mro": ["M"] * (values.MAX_MRO + 1)}, "malformed module classes"),
        ({**MODULE, "state": {"w": {"t": "int", "v": 1}}}, "malformed tensor"),
        (
            {**MODULE, "state": {"w": {"t": "tensor", "key": "nope"}}},
            "missing from the results file",
        ),
    ],
    "raised": [
        ({"t": "raised", "type": 3}, "malformed raised"),
        ({"t": "raised", "message": ["x"]}, "malformed raised"),
    ],
    "object": [
        ({"t": "object", "class": 3}, "malformed object"),
        ({"t": "object", "repr": {"a": 1}}, "malformed object"),
    ],
}


def test_every_output_tag_has_malformed_cases() -> None:
    assert set(values.RECEIVING[OUTPUT]) - {"none"} <= set(MALFORMED)


@pytest.mark.parametrize(
    ("spec", "words"),
    [case for cases in MALFORMED.values() for case in cases],
    ids=[f"{tag}-{i}" for tag, cases in MALFORMED.items() for i in range(len(cases))],
)
def test_a_malformed_output_is_a_wire_error(spec: Any, words: str) -> None:
    """Each alone, and inside a list, a dict and a module's state, as the sandbox would
    return it: WireError with the words that say what is wrong, nothing else."""
    for wrapped in (
        spec,
        {"t": "list", "items": [{"t": "none"}, spec]},
        {"t": "dict", "items": [[{"t": "str", "v": "k"}, spec]]},
    ):
        with pytest.raises(WireError, match=words):
            decode_outputs({"result": wrapped}, TENSORS)


def test_values_must_be_an_object_and_depth_is_capped() -> None:
    with pytest.raises(WireError, match="no values"):
        decode_outputs(["x"], {})
    deep: dict = {"t": "none"}
    for _ in range(values.MAX_DECODE_DEPTH + 1):
        deep = {"t": "list", "items": [deep]}
    with pytest.raises(WireError, match="nested too deeply"):
        decode_outputs({"result": deep}, {})


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(sorted(values.RECEIVING[OUTPUT]) + ["lambda", "mlp", "v0", "t", "items"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "t",
                    "v",
                    "items",
                    "key",
                    "class",
                    "repr",
                    "state",
                    "params",
                    "children",
                    "mro",
                    "type",
                    "message",
                    "training",
                    "exact",
                    "requires_grad",
                    "has_grad",
                ]
            )
            | st.text(max_size=3),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.dictionaries(st.text(max_size=4), JSON, max_size=3))
def test_arbitrary_json_decodes_or_is_a_wire_error(specs: dict) -> None:
    try:
        decode_outputs(specs, TENSORS)
    except WireError:
        pass


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_honest_outputs_decode_or_are_wire_errors(data: st.DataObject) -> None:
    """An honest result with one field anywhere replaced by arbitrary JSON."""
    layer = torch.nn.Linear(2, 2)
    specs, tensors = encode_outputs(
        {"a": [1, (torch.ones(2), {"k": 2.0})], "m": layer, "s": torch.Size([3])}
    )
    specs, tensors = through_files(specs, tensors)
    holders: list[tuple[Any, Any]] = []
    stack: list[Any] = [specs]
    while stack:
        node = stack.pop()
        keys = (
            list(node)
            if isinstance(node, dict)
            else range(len(node))
            if isinstance(node, list)
            else []
        )
        for key in keys:
            holders.append((node, key))
            stack.append(node[key])
    node, key = data.draw(st.sampled_from(holders))
    if data.draw(st.booleans()) and isinstance(node, dict):
        del node[key]
    else:
        node[key] = data.draw(JSON)
    try:
        decode_outputs(specs, tensors)
    except WireError:
        pass


# ------------------------------------------------------------------ found by mutation testing
def receive(value: Any) -> tuple[dict, Any]:
    """A student's return value as the grader gets it: (its JSON spec, decoded)."""
    specs, tensors = encode_outputs({"v": value})
    specs, tensors = through_files(specs, tensors)
    return specs["v"], decode_outputs(specs, tensors)["v"]


def test_a_tensor_is_described_as_written_in_the_protocol() -> None:
    spec, got = receive(torch.tensor([1.5, -2.0]))
    assert {k: v for k, v in spec.items() if k != "key"} == {
        "t": "tensor",
        "class": "torch.Tensor",
        "exact": True,
        "requires_grad": False,
        "has_grad": False,
        "dtype": "float32",
        "shape": [2],
    }
    assert isinstance(got, TensorValue) and got.data.tolist() == [1.5, -2.0]
    leaf = torch.ones(3, requires_grad=True)
    leaf.sum().backward()
    spec, got = receive(leaf)
    assert (spec["requires_grad"], spec["has_grad"]) == (True, True)
    assert (got.requires_grad, got.has_grad) == (True, True)
    spec, _ = receive(leaf * 2)  # not a leaf: it has no .grad of its own
    assert (spec["requires_grad"], spec["has_grad"]) == (True, False)
    spec, _ = receive(torch.zeros(2, 3, dtype=torch.int64))
    assert (spec["dtype"], spec["shape"]) == ("int64", [2, 3])


@pytest.mark.parametrize("make", [torch.Tensor.to_sparse, torch.Tensor.to_sparse_csr])
def test_a_sparse_tensor_arrives_dense(make: Any) -> None:
    dense = torch.tensor([[0.0, 2.0], [3.0, 0.0]])
    spec, got = receive(make(dense))
    assert spec["shape"] == [2, 2] and got.data.layout == torch.strided
    assert got.data.tolist() == dense.tolist()


def test_a_module_is_described_as_written_in_the_protocol() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 1))
    model.eval()
    spec, got = receive(model)
    assert spec["t"] == "module" and spec["class"] == "torch.nn.modules.container.Sequential"
    assert spec["training"] is False
    assert spec["params"] == [["0.weight", [1, 2]], ["0.bias", [1]]]
    assert spec["children"] == [["0", "torch.nn.modules.linear.Linear"]]
    assert sorted(spec["state"]) == ["0.bias", "0.weight"]
    assert spec["state"]["0.weight"]["shape"] == [1, 2]
    assert isinstance(got, ModuleValue) and got.training is False
    assert got.children == [("0", "torch.nn.modules.linear.Linear")]
    assert got.cls == "torch.nn.modules.container.Sequential"
    model.train()
    assert receive(model)[1].training is True


def test_missing_fields_take_their_defaults_and_text_is_capped() -> None:
    got = decode_outputs({"v": {"t": "object"}}, {})["v"]
    assert got == OpaqueValue(cls="?", repr="")
    long = {"t": "object", "class": "c" * 300, "repr": "r" * (values.MAX_TEXT + 10)}
    got = decode_outputs({"v": long}, {})["v"]
    assert got == OpaqueValue(cls="c" * 200, repr="r" * values.MAX_TEXT)
    module = decode_outputs({"v": {"t": "module", "state": {}, "params": []}}, {})["v"]
    assert module.cls == "?" and module.children == [] and module.training is False
    assert module.mro == []  # a module sent without its classes: isinstance sees only cls
    long_mro = {"t": "module", "state": {}, "params": [], "mro": ["m" * 300]}
    assert decode_outputs({"v": long_mro}, {})["v"].mro == ["m" * values.MAX_CLASS_NAME]
    raised = decode_outputs({"v": {"t": "raised", "type": "E" * 300}}, {})["v"]
    assert raised == values.Raised("E" * 100, "")


def test_a_dict_with_unhashable_keys_is_kept_as_its_count() -> None:
    _, got = receive({torch.tensor(1): "a", torch.tensor(2): "b"})
    assert got == OpaqueValue(cls="builtins.dict", repr="dict with 2 non-hashable keys")


def nest(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"k": value}
    return value


def test_dicts_are_kept_to_the_encoding_depth_and_no_deeper() -> None:
    """MAX_ENCODE_DEPTH: a value inside 20 dicts is kept; inside 21 dicts it is its class
    only, and so is the innermost dict's key (so that dict is kept as its count)."""
    _, got = receive(nest(values.MAX_ENCODE_DEPTH))
    assert got == nest(values.MAX_ENCODE_DEPTH)
    _, got = receive(nest(values.MAX_ENCODE_DEPTH + 1))
    for _ in range(values.MAX_ENCODE_DEPTH):
        assert list(got) == ["k"]
        got = got["k"]
    assert got == OpaqueValue(cls="builtins.dict", repr="dict with 1 non-hashable keys")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({}, None),
        ("dispatched", None),
        ({"dispatched": []}, frozenset()),
        (
            {"dispatched": ["aten.relu.default", "aten.add.Tensor"]},
            frozenset({"aten.relu.default", "aten.add.Tensor"}),
        ),
        ({"dispatched": ["x" * values.MAX_OP_NAME]}, frozenset({"x" * values.MAX_OP_NAME})),
    ],
)
def test_a_run_time_record_is_read(record: Any, expected: Any) -> None:
    assert values.read_dispatched(record) == expected


@pytest.mark.parametrize(
    "names",
    [
        "aten.relu",
        ["x" * (values.MAX_OP_NAME + 1)],
        [1],
        [f"op{i}" for i in range(values.MAX_OPS + 1)],
    ],
)
def test_a_malformed_run_time_record_is_a_wire_error(names: Any) -> None:
    with pytest.raises(WireError, match="malformed run-time record"):
        values.read_dispatched({"dispatched": names})


def test_the_record_is_written_sorted_and_capped() -> None:
    assert values.dispatched_data({"b", "a"}) == ["a", "b"]
    many = {f"op{i:05d}" for i in range(values.MAX_OPS + 5)}
    assert values.dispatched_data(many) == sorted(many)[: values.MAX_OPS]
    assert values.dispatched_data({"y" * 150}) == ["y" * values.MAX_OP_NAME]
    assert values.read_dispatched({"dispatched": values.dispatched_data(many)}) is not None
