"""Inputs that checks hand to entry points, written declaratively in exercise YAML.

A plain YAML value (number, text, list) is passed as it is. A mapping with one of the
generator keys below builds a value from the check's own seeded random generator, so
every student gets the same inputs and a run is reproducible:

    {randn: [4, 3]}                 standard-normal tensor of that shape
    {rand: [100]}                   uniform on [0, 1)
    {uniform: [-5, 5], shape: [7]}  uniform on [low, high)
    {randint: [0, 256], shape: [4, 5, 3], dtype: uint8}
    {tensor: [[1, 2], [3, 4]]}      a literal tensor (float32 unless dtype says)
    {tuple: [2, 3]} / {size: [2, 3]} / {dict: {a: 1}}
    {lambda: "v: v[0] ** 2"}        a function, given as the source of a lambda
    {ref: name}                     the value an earlier step stored with `as: name`
    {path: model.pt}                a file name in the check's scratch folder
    {mlp: [[fc1, 8, 4], [out, 4, 1]]}  a network of named Linear layers (ReLU between)
    {data: X_train}                 a value from the check's hidden data function

Modifiers beside a generator: dtype, requires_grad, scale, shift, as_list (a tensor
given as nested Python lists).
"""

from __future__ import annotations

# torch is imported inside functions: loading a course must not pay for it.
import ast
from typing import TYPE_CHECKING, Any

from grader.course.schema import ExerciseError, type_name
from grader.sandbox.protocol.values import Lambda, MLPSpec, Ref, WorkPath

if TYPE_CHECKING:
    import torch

GENERATORS = {
    "randn",
    "rand",
    "uniform",
    "randint",
    "tensor",
    "tuple",
    "size",
    "dict",
    "lambda",
    "ref",
    "path",
    "mlp",
    "data",
}
MODIFIERS = {"dtype", "requires_grad", "scale", "shift", "as_list", "shape"}
# The dtypes an input may ask for, in the order error messages list them; each name is
# also the name of the torch dtype (torch.float32, ...), see torch_dtype().
DTYPE_NAMES = ("float32", "float64", "float16", "int64", "int32", "uint8", "bool")


def validate(raw: Any, path: str, line: int) -> None:
    """Raise ExerciseError if ``raw`` is not a valid input description."""
    if isinstance(raw, list):
        for item in raw:
            validate(item, path, getattr(item, "line", line))
        return
    if not isinstance(raw, dict):
        if raw is not None and not isinstance(raw, (int, float, str, bool)):
            raise ExerciseError(
                path, line, f"input {type_name(raw)} is not a value the grader can pass"
            )
        return
    line = getattr(raw, "line", line)
    kinds = [k for k in raw if k in GENERATORS]
    if len(kinds) != 1:
        raise ExerciseError(
            path,
            line,
            "an input mapping needs exactly one of the keys "
            f"{', '.join(sorted(GENERATORS))}; got {', '.join(map(str, raw)) or 'none'}",
        )
    kind = kinds[0]
    for key in raw:
        if key != kind and key not in MODIFIERS:
            raise ExerciseError(
                path,
                getattr(raw, "key_lines", {}).get(key, line),
                f"key '{key}': unknown beside '{kind}' (allowed: {', '.join(sorted(MODIFIERS))})",
            )
    if "dtype" in raw and (not isinstance(raw["dtype"], str) or raw["dtype"] not in DTYPE_NAMES):
        raise ExerciseError(
            path,
            raw.key_lines.get("dtype", line),
            f"key 'dtype': expected one of {', '.join(DTYPE_NAMES)}, got {type_name(raw['dtype'])}",
        )
    arg = raw[kind]
    if kind in ("randn", "rand", "size") and not _is_shape(arg):
        raise ExerciseError(
            path,
            line,
            f"key '{kind}': expected a shape (list of whole numbers), got {type_name(arg)}",
        )
    if kind in ("uniform", "randint"):
        if not (isinstance(arg, list) and len(arg) == 2 and all(_is_number(a) for a in arg)):
            raise ExerciseError(
                path, line, f"key '{kind}': expected [low, high], got {type_name(arg)}"
            )
        if not _is_shape(raw.get("shape")):
            raise ExerciseError(
                path, line, f"key 'shape': required beside '{kind}' as a list of whole numbers"
            )
    if kind in ("lambda", "ref", "path", "data") and not (isinstance(arg, str) and arg.strip()):
        raise ExerciseError(path, line, f"key '{kind}': expected text, got {type_name(arg)}")
    if kind == "lambda":
        problem = lambda_problem(arg)
        if problem:
            raise ExerciseError(path, line, f"key 'lambda': {problem}")
    if kind == "mlp" and not (
        isinstance(arg, list)
        and arg
        and all(
            isinstance(layer, list)
            and len(layer) == 3
            and isinstance(layer[0], str)
            and _is_count(layer[1])
            and _is_count(layer[2])
            for layer in arg
        )
    ):
        raise ExerciseError(
            path, line, "key 'mlp': expected a list of [name, in_features, out_features]"
        )
    if kind in ("tuple", "tensor"):
        if not isinstance(arg, list):
            raise ExerciseError(path, line, f"key '{kind}': expected a list, got {type_name(arg)}")
        if kind == "tuple":
            validate(arg, path, line)
    if kind == "dict":
        if not isinstance(arg, dict):
            raise ExerciseError(path, line, f"key 'dict': expected a mapping, got {type_name(arg)}")
        for value in arg.values():
            validate(value, path, line)


def lambda_problem(src: str) -> str:
    """Why ``lambda <src>`` is not a plain lambda; parsed only, never run."""
    try:
        tree = ast.parse("lambda " + src, mode="eval")
    except SyntaxError as exc:
        return f"not a valid lambda ({exc.msg})"
    if not isinstance(tree.body, ast.Lambda):
        return "expected one lambda, e.g. 'v: v[0] ** 2'"
    if tree.body.args.defaults or tree.body.args.kw_defaults:
        return "a lambda given as input may not have default values"
    return ""


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _is_shape(x: Any) -> bool:
    return isinstance(x, list) and all(_is_count(d) for d in x)


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of one of DTYPE_NAMES."""
    import torch

    if name not in DTYPE_NAMES:
        raise KeyError(name)
    return getattr(torch, name)


def realize(raw: Any, gen: torch.Generator, data: dict[str, Any]) -> Any:
    """Build the concrete value of a validated input description."""
    import torch

    if isinstance(raw, list):
        return [realize(item, gen, data) for item in raw]
    if not isinstance(raw, dict):
        return raw
    kind = next(k for k in raw if k in GENERATORS)
    arg = raw[kind]
    dtype = torch_dtype(raw["dtype"]) if "dtype" in raw else None
    value: Any
    if kind == "randn":
        value = torch.randn(arg, generator=gen)
    elif kind == "rand":
        value = torch.rand(arg, generator=gen)
    elif kind == "uniform":
        low, high = arg
        value = low + (high - low) * torch.rand(raw["shape"], generator=gen)
    elif kind == "randint":
        value = torch.randint(int(arg[0]), int(arg[1]), raw["shape"], generator=gen)
    elif kind == "tensor":
        value = torch.tensor(arg, dtype=dtype or torch.float32)
    elif kind == "tuple":
        return tuple(realize(item, gen, data) for item in arg)
    elif kind == "size":
        return torch.Size(arg)
    elif kind == "dict":
        return {k: realize(v, gen, data) for k, v in arg.items()}
    elif kind == "lambda":
        return Lambda(arg)
    elif kind == "ref":
        return Ref(arg)
    elif kind == "path":
        return WorkPath(arg)
    elif kind == "mlp":
        return make_mlp([(str(n), int(i), int(o)) for n, i, o in arg], gen)
    else:  # data
        if arg not in data:
            raise KeyError(f"the check's data function gave no '{arg}'")
        return data[arg]
    if isinstance(value, torch.Tensor):
        if "scale" in raw:
            value = value * raw["scale"]
        if "shift" in raw:
            value = value + raw["shift"]
        if dtype is not None:
            value = value.to(dtype)
        if raw.get("requires_grad"):
            value.requires_grad_(True)
        if raw.get("as_list"):
            return value.tolist()
    return value


def make_mlp(layers: list[tuple[str, int, int]], gen: torch.Generator) -> MLPSpec:
    """Weights for a named-layer network, drawn like nn.Linear's default init."""
    import torch

    state: dict[str, torch.Tensor] = {}
    for name, fan_in, fan_out in layers:
        bound = 1.0 / max(fan_in, 1) ** 0.5
        state[f"{name}.weight"] = (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * bound
        state[f"{name}.bias"] = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound
    return MLPSpec(layers=layers, state=state)
