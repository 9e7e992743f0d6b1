"""The data that crosses the sandbox boundary, seen from the grader.

Inputs are encoded as tagged JSON plus a safetensors file. Outputs come back the same
way and are decoded defensively: the JSON is untrusted, so every field is type-checked,
tensors are taken from the safetensors file (their dtype and shape from the file, not
from the JSON), and nothing is ever unpickled.
"""

from __future__ import annotations

# torch is imported inside functions: loading a course must not pay for it.
import errno
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

MAX_JSON_BYTES = 32 * 2**20
MAX_TENSOR_FILE_BYTES = 512 * 2**20


class WireError(Exception):
    """An output from the sandbox that does not follow the protocol."""


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


@dataclass
class OpaqueValue:
    """Something that is neither data nor a tensor: kept only as its class and repr."""

    cls: str
    repr: str


# ------------------------------------------------------------------ inputs
class Lambda:
    """A function handed to student code, written as the source of a lambda."""

    def __init__(self, src: str) -> None:
        import torch

        self.src = src
        self.fn = eval("lambda " + src, {"torch": torch, "math": math})

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


class InputEncoder:
    """Encodes probe inputs; collects their tensors for ``inputs.safetensors``."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}

    def tensor_key(self, tensor: torch.Tensor) -> str:
        key = f"i{len(self.tensors)}"
        self.tensors[key] = tensor.detach().contiguous().clone()
        return key

    def encode(self, value: Any) -> dict:
        import torch

        if value is None:
            return {"t": "none"}
        if isinstance(value, bool):
            return {"t": "bool", "v": value}
        if isinstance(value, int):
            return {"t": "int", "v": value}
        if isinstance(value, float):
            return {"t": "float", "v": value}
        if isinstance(value, str):
            return {"t": "str", "v": value}
        if isinstance(value, torch.Tensor):
            return {"t": "tensor", "key": self.tensor_key(value), "requires_grad": value.requires_grad}
        if isinstance(value, torch.Size):
            return {"t": "size", "v": list(value)}
        if isinstance(value, (list, tuple)):
            return {"t": type(value).__name__ if type(value) in (list, tuple) else "list",
                    "items": [self.encode(v) for v in value]}
        if isinstance(value, dict):
            return {"t": "dict", "items": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if isinstance(value, Lambda):
            return {"t": "lambda", "src": value.src}
        if isinstance(value, Ref):
            return {"t": "ref", "name": value.name}
        if isinstance(value, WorkPath):
            return {"t": "path", "v": value.name}
        if isinstance(value, MLPSpec):
            return {"t": "mlp", "layers": [list(layer) for layer in value.layers],
                    "state": {k: self.encode(v) for k, v in value.state.items()}}
        raise TypeError(f"cannot send a {type(value).__name__} into the sandbox")


# ------------------------------------------------------------------ outputs
def _read_capped(path: Path, cap: int) -> bytes | None:
    """A regular file's bytes (None if absent or a link), refusing more than ``cap``:
    one open, no following of links, one fstat."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink
            return None
        raise WireError(f"{path.name} cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > cap:
            raise WireError(f"{path.name} is larger than {cap} bytes")
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, max(info.st_size - total, 0) + 1)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > cap:
            raise WireError(f"{path.name} is larger than {cap} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_json(path: Path) -> dict | None:
    """An output JSON file, or None if it is absent. Raises WireError if malformed."""
    raw = _read_capped(path, MAX_JSON_BYTES)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"{path.name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WireError(f"{path.name} does not hold an object")
    return data


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    raw = _read_capped(path, MAX_TENSOR_FILE_BYTES)
    if raw is None:
        return {}
    from safetensors.torch import load

    try:
        return load(raw)  # from bytes: for small files, much cheaper than a memory map
    except Exception as exc:  # a malformed file must not stop grading
        raise WireError(f"{path.name} is not a valid safetensors file: {exc}") from None


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise WireError(what)


def decode(spec: Any, tensors: dict[str, torch.Tensor], depth: int = 0) -> Any:
    """Rebuild a value returned by student code. Strict: anything odd is a WireError."""
    import torch

    _expect(depth <= 25 and isinstance(spec, dict) and isinstance(spec.get("t"), str), "malformed value")
    tag = spec["t"]
    if tag == "none":
        return None
    if tag in ("bool", "int", "float", "str"):
        value = spec.get("v")
        kinds = {"bool": (bool,), "int": (int,), "float": (float, int), "str": (str,)}[tag]
        _expect(isinstance(value, kinds) and (tag == "bool" or not isinstance(value, bool)), f"malformed {tag}")
        return float(value) if tag == "float" else value
    if tag == "size":
        dims = spec.get("v")
        _expect(isinstance(dims, list) and all(type(d) is int for d in dims), "malformed size")
        return torch.Size(dims)
    if tag in ("list", "tuple"):
        items = spec.get("items")
        _expect(isinstance(items, list), f"malformed {tag}")
        values = [decode(v, tensors, depth + 1) for v in items]
        return values if tag == "list" else tuple(values)
    if tag == "dict":
        items = spec.get("items")
        _expect(isinstance(items, list) and all(isinstance(p, list) and len(p) == 2 for p in items), "malformed dict")
        pairs = [(decode(k, tensors, depth + 1), decode(v, tensors, depth + 1)) for k, v in items]
        try:
            return dict(pairs)
        except TypeError:  # unhashable keys (tensors): keep the pairs
            return OpaqueValue(cls="builtins.dict", repr=f"dict with {len(pairs)} non-hashable keys")
    if tag == "tensor":
        return _decode_tensor(spec, tensors)
    if tag == "module":
        state = spec.get("state")
        _expect(isinstance(state, dict), "malformed module")
        params = spec.get("params")
        _expect(isinstance(params, list) and all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], list)
            for p in params), "malformed module parameters")
        children = spec.get("children", [])
        _expect(isinstance(children, list), "malformed module children")
        return ModuleValue(
            cls=str(spec.get("class", "?")),
            training=bool(spec.get("training")),
            params=[(name, tuple(int(d) for d in shape)) for name, shape in params],
            children=[(str(c[0]), str(c[1])) for c in children if isinstance(c, list) and len(c) == 2],
            state={str(k): _decode_tensor(v, tensors) for k, v in state.items()},
        )
    if tag == "object":
        return OpaqueValue(cls=str(spec.get("class", "?"))[:200], repr=str(spec.get("repr", ""))[:4000])
    raise WireError(f"unknown value tag {tag!r}")


def _decode_tensor(spec: Any, tensors: dict[str, torch.Tensor]) -> TensorValue:
    _expect(isinstance(spec, dict) and spec.get("t") == "tensor", "malformed tensor")
    key = spec.get("key")
    _expect(isinstance(key, str) and key in tensors, "a tensor is missing from the results file")
    return TensorValue(
        data=tensors[key],
        cls=str(spec.get("class", "torch.Tensor"))[:200],
        exact=spec.get("exact") is True,
        requires_grad=spec.get("requires_grad") is True,
        has_grad=spec.get("has_grad") is True,
    )


def read_values(out: Path, stem: str) -> tuple[dict | None, dict[str, Any]]:
    """Read ``stem.json`` (+ ``stem.safetensors``): (raw record, decoded values)."""
    record = read_json(out / f"{stem}.json")
    if record is None:
        return None, {}
    if record.get("status") != "ok":
        return record, {}
    values = record.get("values")
    _expect(isinstance(values, dict), "malformed result: no values")
    tensors = read_tensors(out / f"{stem}.safetensors")
    return record, {str(k): decode(v, tensors) for k, v in values.items()}
