"""The values that cross the sandbox boundary, as tagged JSON plus safetensors.

Two directions: INPUT values go from the grader into the sandbox (a check's arguments),
OUTPUT values come back (what student code returned). Each tag is one class below that
holds both directions: ``check`` (does the sender encode this value with this tag),
``to_json`` (how the sender encodes it) and ``to_python`` (how the receiver rebuilds
it). Adding a value kind is one class, registered once with ``@register``.

Decoding an OUTPUT is strict: the JSON is untrusted, so every field is type-checked,
tensors come from the safetensors file (their dtype and shape from the file, not from
the JSON), nothing is ever evaluated or unpickled, and anything malformed raises
``WireError`` and nothing else. The receiver of an OUTPUT builds the grader's own value
types (``TensorValue``, ``ModuleValue``, ``OpaqueValue``); the receiver of an INPUT (the
sandbox) builds live objects (tensors, functions, networks).

torch is imported inside functions: the grader loads a course without it.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch

INPUT = "input"  # grader -> sandbox
OUTPUT = "output"  # sandbox -> grader

MAX_TEXT = 4000  # characters kept of a returned string, an exception message or a repr
MAX_ITEMS = 10_000  # items kept of a returned container
MAX_ENCODE_DEPTH = 20  # deeper returned values are kept as their class only
MAX_DECODE_DEPTH = 25
MAX_DIM = 2**63 - 1  # a dimension torch can hold
MAX_MRO = 64  # classes kept of a module's class hierarchy
MAX_CLASS_NAME = 200


class WireError(Exception):
    """An output from the sandbox that does not follow the protocol."""


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise WireError(what)


# ------------------------------------------------------------------ grader-side values
@dataclass
class TensorValue:
    data: torch.Tensor
    cls: str = "torch.Tensor"
    exact: bool = True
    requires_grad: bool = False
    has_grad: bool = False


@dataclass
class ModuleValue:
    cls: str
    training: bool
    params: list[tuple[str, tuple[int, ...]]]
    children: list[tuple[str, str]]
    state: dict[str, TensorValue] = field(default_factory=dict)
    # The names of its class's MRO, most derived first ("torch.nn.modules.linear.Linear",
    # ..., "builtins.object"), so that a check can ask isinstance(result, nn.Linear)
    # of a subclass; empty when the sandbox sent none.
    mro: list[str] = field(default_factory=list)


@dataclass
class OpaqueValue:
    """Something that is neither data nor a tensor: kept only as its class and repr."""

    cls: str
    repr: str


@dataclass
class Raised:
    """What a call that raised left in place of its value, for a check that goes on
    after it (a row of a table): the exception's class name and message."""

    type: str
    message: str


class Lambda:
    """A function handed to student code, written as the source of a lambda."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.fn = _lambda(src)

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


@dataclass
class Ref:
    """A value produced by an earlier step of the same probe."""

    name: str


@dataclass
class WorkPath:
    """A file name inside the call's scratch folder."""

    name: str


@dataclass
class MLPSpec:
    """A network of named Linear layers with ReLU between them, with given weights."""

    layers: list[tuple[str, int, int]]
    state: dict[str, torch.Tensor]


def _lambda(src: str) -> Any:
    """The instructor's lambda source as a function (instructor text, never a student's)."""
    import torch

    return eval("lambda " + src, {"torch": torch, "math": math})


def _loaded_torch() -> Any:
    """torch if something imported it: a value cannot be a tensor before that."""
    return sys.modules.get("torch")


def type_name(value: object) -> str:
    return class_name(type(value))


def class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def mro_names(cls: type) -> list[str]:
    """The names of a class's MRO (a student's class may name itself anything: the
    names are data, read as such)."""
    names = []
    for base in cls.__mro__[:MAX_MRO]:
        try:
            names.append(class_name(base)[:MAX_CLASS_NAME])
        except Exception:  # a class whose name is not text: keep the others
            names.append("?")
    return names


def safe_text(fn: Any, value: object) -> str:
    """``fn(value)`` (str or repr of a student's object), whatever that object does."""
    try:
        text = fn(value)
        if not isinstance(text, str):
            return "<unprintable>"
        return text[:MAX_TEXT]
    except BaseException:  # noqa: B036 - a student's __repr__ may raise anything
        return "<unprintable>"


# ------------------------------------------------------------------ codecs
class Encoder:
    """Encodes values of one direction; collects their tensors (``tensors``), which
    travel in a safetensors file beside the JSON."""

    def __init__(self, direction: str, prefix: str) -> None:
        self.direction = direction
        self.prefix = prefix
        self.tensors: dict[str, torch.Tensor] = {}

    def add_tensor(self, tensor: torch.Tensor) -> str:
        key = f"{self.prefix}{len(self.tensors)}"
        self.tensors[key] = tensor
        return key

    def encode(self, value: Any, depth: int = 0) -> dict:
        if self.direction == OUTPUT and depth > MAX_ENCODE_DEPTH:
            return {"t": "object", "class": type_name(value), "repr": "<nested too deeply>"}
        for tag in SENDING[self.direction]:
            if tag.check(value, self):
                return tag.to_json(value, self, depth)
        raise TypeError(f"cannot send a {type(value).__name__} into the sandbox")


class InputEncoder(Encoder):
    """Encodes probe inputs; collects their tensors for the run's inputs file."""

    def __init__(self) -> None:
        super().__init__(INPUT, "i")


class OutputEncoder(Encoder):
    """Encodes what student code returned (in the sandbox)."""

    def __init__(self) -> None:
        super().__init__(OUTPUT, "v")


class Decoder:
    """Rebuilds values of one direction from their JSON and the tensors file;
    ``env`` holds the values earlier steps bound (INPUT only)."""

    def __init__(
        self, direction: str, tensors: dict[str, Any], env: dict[str, Any] | None = None
    ) -> None:
        self.direction = direction
        self.tensors = tensors
        self.env = env if env is not None else {}

    def decode(self, spec: Any, depth: int = 0) -> Any:
        expect(depth <= MAX_DECODE_DEPTH, "a value is nested too deeply")
        expect(isinstance(spec, dict) and isinstance(spec.get("t"), str), "malformed value")
        tag = RECEIVING[self.direction].get(spec["t"])
        if tag is None:
            raise WireError(f"unknown value tag {spec['t'][:40]!r}")
        return tag.to_python(spec, self, depth)

    def tensor(self, spec: dict) -> Any:
        key = spec.get("key")
        expect(
            isinstance(key, str) and key in self.tensors,
            "a tensor is missing from the results file",
        )
        return self.tensors[key]


def encode_outputs(values: dict[str, Any]) -> tuple[dict[str, dict], dict[str, torch.Tensor]]:
    """Named values a check kept (in the sandbox): their JSON, and their tensors."""
    encoder = OutputEncoder()
    return {name: encoder.encode(value) for name, value in values.items()}, encoder.tensors


def decode_outputs(specs: Any, tensors: dict[str, Any]) -> dict[str, Any]:
    """Named values from a result record (in the grader). Raises only WireError."""
    expect(isinstance(specs, dict), "malformed result: no values")
    decoder = Decoder(OUTPUT, tensors)
    try:
        return {str(name): decoder.decode(spec) for name, spec in specs.items()}
    except WireError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        RecursionError,
    ) as exc:  # a backstop: each tag validates first
        raise WireError(f"malformed value ({type(exc).__name__})") from None


# ------------------------------------------------------------------ the run-time record
# A check the plan marks ("record": true in its call) comes back with the library
# operators its steps dispatched: a sorted list of names ("aten.relu"), in the result
# record under DISPATCHED. The sandbox records the aten namespace only, whose operators
# number well under MAX_OPS, so no flood of other names can push one off the list.
DISPATCHED = "dispatched"
MAX_OPS = 4096
MAX_OP_NAME = 100


def dispatched_data(names: set[str]) -> list[str]:
    """The record as the sandbox writes it: sorted, capped in count and length."""
    return sorted(n[:MAX_OP_NAME] for n in names)[:MAX_OPS]


def read_dispatched(record: Any) -> frozenset[str] | None:
    """The operators a result record says its check dispatched (in the grader); None
    when it holds no record. Raises only WireError."""
    if not isinstance(record, dict) or DISPATCHED not in record:
        return None
    names = record[DISPATCHED]
    expect(isinstance(names, list) and len(names) <= MAX_OPS, "malformed run-time record")
    expect(
        all(isinstance(n, str) and len(n) <= MAX_OP_NAME for n in names),
        "malformed run-time record",
    )
    return frozenset(names)


def decode_input(spec: Any, env: dict[str, Any], tensors: dict[str, Any]) -> Any:
    """A probe's input value (in the sandbox), live: tensors, functions, networks."""
    return Decoder(INPUT, tensors, env).decode(spec)


# ------------------------------------------------------------------ the tags
class Tag:
    """One kind of value. ``directions``: which way it may travel."""

    name: ClassVar[str]
    directions: ClassVar[frozenset[str]] = frozenset({INPUT, OUTPUT})

    def check(self, value: Any, enc: Encoder) -> bool:
        raise NotImplementedError

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        raise NotImplementedError

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        raise NotImplementedError


TAGS: list[Tag] = []  # in the order senders try them
SENDING: dict[str, list[Tag]] = {INPUT: [], OUTPUT: []}
RECEIVING: dict[str, dict[str, Tag]] = {INPUT: {}, OUTPUT: {}}


def register(cls: type[Tag]) -> type[Tag]:
    tag = cls()
    TAGS.append(tag)
    for direction in cls.directions:
        SENDING[direction].append(tag)
        RECEIVING[direction][cls.name] = tag
    return cls


def _is(value: Any, kind: type, enc: Encoder) -> bool:
    """Outputs take exact types (a numpy float or an int subclass is kept as an object,
    as the judges expect); inputs are the grader's own values."""
    return type(value) is kind if enc.direction == OUTPUT else isinstance(value, kind)


@register
class NoneTag(Tag):
    name = "none"

    def check(self, value: Any, enc: Encoder) -> bool:
        return value is None

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "none"}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        return None


@register
class BoolTag(Tag):
    name = "bool"

    def check(self, value: Any, enc: Encoder) -> bool:
        return type(value) is bool

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "bool", "v": value}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        value = spec.get("v")
        expect(type(value) is bool, "malformed bool")
        return value


@register
class IntTag(Tag):
    name = "int"

    def check(self, value: Any, enc: Encoder) -> bool:
        return _is(value, int, enc) and not isinstance(value, bool)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        if enc.direction == OUTPUT and abs(value) >= 2**63:
            return {"t": "float", "v": float(value)}  # beyond what a tensor or JSON reader holds
        return {"t": "int", "v": value}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        value = spec.get("v")
        expect(type(value) is int, "malformed int")
        return value


@register
class FloatTag(Tag):
    name = "float"

    def check(self, value: Any, enc: Encoder) -> bool:
        return _is(value, float, enc)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "float", "v": value}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        value = spec.get("v")
        expect(type(value) in (float, int), "malformed float")
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            raise WireError("malformed float") from None


@register
class StrTag(Tag):
    name = "str"

    def check(self, value: Any, enc: Encoder) -> bool:
        return _is(value, str, enc)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "str", "v": value[:MAX_TEXT] if enc.direction == OUTPUT else value}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        value = spec.get("v")
        expect(isinstance(value, str), "malformed str")
        return value


def _text_field(spec: dict, key: str, default: str, cap: int | None, what: str) -> str:
    value = spec.get(key, default)
    expect(isinstance(value, str), f"malformed {what}")
    return value[:cap]


def _flag(spec: dict, key: str, what: str) -> bool:
    value = spec.get(key, False)
    expect(type(value) is bool, f"malformed {what}")
    return value


@register
class TensorTag(Tag):
    name = "tensor"

    def check(self, value: Any, enc: Encoder) -> bool:
        torch = _loaded_torch()
        return torch is not None and isinstance(value, torch.Tensor)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        if enc.direction == INPUT:
            key = enc.add_tensor(value.detach().contiguous().clone())
            return {"t": "tensor", "key": key, "requires_grad": value.requires_grad}
        import torch

        meta = {
            "t": "tensor",
            "class": type_name(value),
            "exact": type(value) is torch.Tensor,
            "requires_grad": bool(value.requires_grad),
            "has_grad": value.grad is not None if value.is_leaf else False,
        }
        plain = value.detach()
        if type(plain) is not torch.Tensor:
            plain = plain.as_subclass(torch.Tensor)
        if plain.is_sparse or plain.layout != torch.strided:
            plain = plain.to_dense()
        meta["dtype"] = str(plain.dtype).replace("torch.", "")
        meta["shape"] = list(plain.shape)
        meta["key"] = enc.add_tensor(plain.cpu().contiguous().clone())
        return meta

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        if dec.direction == INPUT:
            tensor = dec.tensor(spec).clone()
            if spec.get("requires_grad"):
                tensor.requires_grad_(True)
            return tensor
        # The JSON's dtype and shape are not read: the file's are the truth.
        return TensorValue(
            data=dec.tensor(spec),
            cls=_text_field(spec, "class", "torch.Tensor", 200, "tensor class"),
            exact=_flag(spec, "exact", "tensor"),
            requires_grad=_flag(spec, "requires_grad", "tensor"),
            has_grad=_flag(spec, "has_grad", "tensor"),
        )


def _tensor_spec(spec: Any, dec: Decoder) -> TensorValue:
    expect(isinstance(spec, dict) and spec.get("t") == "tensor", "malformed tensor")
    return TENSOR.to_python(spec, dec, 0)


def _shape(raw: Any, what: str) -> tuple[int, ...]:
    expect(isinstance(raw, list) and len(raw) <= 64, f"malformed {what}")
    expect(all(type(d) is int and 0 <= d <= MAX_DIM for d in raw), f"malformed {what}")
    return tuple(raw)


@register
class ModuleTag(Tag):
    name = "module"
    directions = frozenset({OUTPUT})

    def check(self, value: Any, enc: Encoder) -> bool:
        torch = _loaded_torch()
        return torch is not None and isinstance(value, torch.nn.Module)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        state = {
            str(name): TENSOR.to_json(tensor, enc, depth)
            for name, tensor in value.state_dict().items()
        }
        return {
            "t": "module",
            "class": type_name(value),
            "training": bool(value.training),
            "params": [[str(n), list(p.shape)] for n, p in value.named_parameters()],
            "children": [[str(n), type_name(c)] for n, c in value.named_children()],
            "state": state,
            "mro": mro_names(type(value)),
        }

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        state = spec.get("state")
        expect(isinstance(state, dict), "malformed module")
        params = spec.get("params")
        expect(
            isinstance(params, list)
            and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in params),
            "malformed module parameters",
        )
        children = spec.get("children", [])
        expect(
            isinstance(children, list)
            and all(
                isinstance(c, list) and len(c) == 2 and all(isinstance(s, str) for s in c)
                for c in children
            ),
            "malformed module children",
        )
        return ModuleValue(
            cls=_text_field(spec, "class", "?", None, "module class"),
            training=_flag(spec, "training", "module"),
            params=[(name, _shape(shape, "module parameters")) for name, shape in params],
            children=[(name, cls) for name, cls in children],
            state={str(k): _tensor_spec(v, dec) for k, v in state.items()},
            mro=_mro(spec.get("mro", [])),
        )


def _mro(raw: Any) -> list[str]:
    expect(
        isinstance(raw, list) and len(raw) <= MAX_MRO and all(isinstance(c, str) for c in raw),
        "malformed module classes",
    )
    return [c[:MAX_CLASS_NAME] for c in raw]


@register
class SizeTag(Tag):
    name = "size"

    def check(self, value: Any, enc: Encoder) -> bool:
        torch = _loaded_torch()
        return torch is not None and _is(value, torch.Size, enc)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "size", "v": [int(d) for d in value]}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        import torch

        return torch.Size(_shape(spec.get("v"), "size"))


class _Sequence(Tag):
    kind: ClassVar[type]

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        items = list(value)[:MAX_ITEMS] if enc.direction == OUTPUT else value
        return {"t": self.name, "items": [enc.encode(v, depth + 1) for v in items]}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        items = spec.get("items")
        expect(isinstance(items, list), f"malformed {self.name}")
        return self.kind(dec.decode(v, depth + 1) for v in items)


@register
class ListTag(_Sequence):
    name = "list"
    kind = list

    def check(self, value: Any, enc: Encoder) -> bool:
        if enc.direction == OUTPUT:
            return type(value) is list
        # The grader's own lists, and tuple subclasses (named tuples) as lists.
        return isinstance(value, (list, tuple)) and type(value) is not tuple


@register
class TupleTag(_Sequence):
    name = "tuple"
    kind = tuple

    def check(self, value: Any, enc: Encoder) -> bool:
        return type(value) is tuple


@register
class DictTag(Tag):
    name = "dict"

    def check(self, value: Any, enc: Encoder) -> bool:
        return _is(value, dict, enc)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        pairs = list(value.items())
        if enc.direction == OUTPUT:
            pairs = pairs[:MAX_ITEMS]
        return {
            "t": "dict",
            "items": [[enc.encode(k, depth + 1), enc.encode(v, depth + 1)] for k, v in pairs],
        }

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        items = spec.get("items")
        expect(
            isinstance(items, list) and all(isinstance(p, list) and len(p) == 2 for p in items),
            "malformed dict",
        )
        pairs = [(dec.decode(k, depth + 1), dec.decode(v, depth + 1)) for k, v in items]
        try:
            return dict(pairs)
        except TypeError:  # unhashable keys (tensors): keep the pairs' count
            if dec.direction == INPUT:
                raise
            return OpaqueValue(
                cls="builtins.dict", repr=f"dict with {len(pairs)} non-hashable keys"
            )


@register
class LambdaTag(Tag):
    name = "lambda"
    directions = frozenset({INPUT})  # the grader never evaluates what comes back

    def check(self, value: Any, enc: Encoder) -> bool:
        return isinstance(value, Lambda)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "lambda", "src": value.src}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        src = spec.get("src")
        expect(isinstance(src, str), "malformed lambda")
        return _lambda(src)


@register
class RefTag(Tag):
    name = "ref"
    directions = frozenset({INPUT})

    def check(self, value: Any, enc: Encoder) -> bool:
        return isinstance(value, Ref)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "ref", "name": value.name}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        name = spec.get("name")
        expect(isinstance(name, str) and name in dec.env, "malformed ref")
        return dec.env[name]


@register
class PathTag(Tag):
    name = "path"
    directions = frozenset({INPUT})

    def check(self, value: Any, enc: Encoder) -> bool:
        return isinstance(value, WorkPath)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "path", "v": value.name}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        name = spec.get("v")
        expect(isinstance(name, str), "malformed path")
        return str(Path.cwd() / name)  # the check's own working folder


@register
class MLPTag(Tag):
    name = "mlp"
    directions = frozenset({INPUT})

    def check(self, value: Any, enc: Encoder) -> bool:
        return isinstance(value, MLPSpec)

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {
            "t": "mlp",
            "layers": [list(layer) for layer in value.layers],
            "state": {k: enc.encode(v, depth + 1) for k, v in value.state.items()},
        }

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        from .mlp import MLP

        net = MLP(spec["layers"])
        if "state" in spec:
            net.load_state_dict({k: dec.decode(v, depth + 1) for k, v in spec["state"].items()})
        return net


@register
class RaisedTag(Tag):
    """A call that raised, where the check asked to go on (see ``Raised``)."""

    name = "raised"
    directions = frozenset({OUTPUT})

    def check(self, value: Any, enc: Encoder) -> bool:
        return type(value) is Raised

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "raised", "type": str(value.type)[:100], "message": value.message[:MAX_TEXT]}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        return Raised(
            type=_text_field(spec, "type", "Exception", 100, "raised"),
            message=_text_field(spec, "message", "", MAX_TEXT, "raised"),
        )


@register
class ObjectTag(Tag):
    """Anything else a student returns: kept as its class and repr, never rebuilt."""

    name = "object"
    directions = frozenset({OUTPUT})

    def check(self, value: Any, enc: Encoder) -> bool:
        return True

    def to_json(self, value: Any, enc: Encoder, depth: int) -> dict:
        return {"t": "object", "class": type_name(value), "repr": safe_text(repr, value)}

    def to_python(self, spec: dict, dec: Decoder, depth: int) -> Any:
        return OpaqueValue(
            cls=_text_field(spec, "class", "?", 200, "object"),
            repr=_text_field(spec, "repr", "", MAX_TEXT, "object"),
        )


TENSOR = RECEIVING[OUTPUT]["tensor"]
