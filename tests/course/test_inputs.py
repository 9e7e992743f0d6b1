"""grader/course/inputs.py: input descriptions written in YAML become the values a check hands
to entry points (``realize``), drawn from the check's own seeded generator; a malformed
description is refused at load (``validate``) with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from judging import plan_check

from grader.course.inputs import DTYPE_NAMES, make_mlp, realize, torch_dtype, validate
from grader.course.schema import ExerciseError, Located
from grader.sandbox.protocol.values import Lambda, MLPSpec, Ref, WorkPath


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_plain_values_pass_as_they_are():
    for value in (3, 2.5, "text", True, None):
        assert realize(value, gen(), {}) == value
    assert realize([1, [2, "x"]], gen(), {}) == [1, [2, "x"]]


def test_randn_and_rand_follow_the_generator():
    x = realize({"randn": [2, 3]}, gen(5), {})
    assert x.shape == (2, 3) and x.dtype == torch.float32
    assert torch.equal(x, torch.randn(2, 3, generator=gen(5)))
    u = realize({"rand": [100]}, gen(5), {})
    assert torch.equal(u, torch.rand(100, generator=gen(5)))
    assert not torch.equal(realize({"randn": [2, 3]}, gen(6), {}), x)


def test_uniform_lies_in_its_interval():
    u = realize({"uniform": [-5, 5], "shape": [1000]}, gen(), {})
    assert u.shape == (1000,) and float(u.min()) >= -5 and float(u.max()) < 5
    assert float(u.min()) < -4 and float(u.max()) > 4  # spread over the interval, not [0, 1)


def test_randint_with_dtype():
    x = realize({"randint": [0, 256], "shape": [4, 5, 3], "dtype": "uint8"}, gen(), {})
    assert x.shape == (4, 5, 3) and x.dtype == torch.uint8
    assert torch.equal(x, torch.randint(0, 256, (4, 5, 3), generator=gen()).to(torch.uint8))
    small = realize({"randint": [2, 4], "shape": [200]}, gen(), {})
    assert small.dtype == torch.int64 and set(small.tolist()) == {2, 3}


def test_tensor_literal():
    x = realize({"tensor": [[1, 2], [3, 4]]}, gen(), {})
    assert x.dtype == torch.float32 and x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    y = realize({"tensor": [1, 2], "dtype": "int64"}, gen(), {})
    assert y.dtype == torch.int64 and y.tolist() == [1, 2]


def test_containers():
    t = realize({"tuple": [2, {"tensor": [1.0]}]}, gen(), {})
    assert isinstance(t, tuple) and t[0] == 2 and torch.equal(t[1], torch.tensor([1.0]))
    assert realize({"size": [2, 3]}, gen(), {}) == torch.Size([2, 3])
    assert isinstance(realize({"size": [2, 3]}, gen(), {}), torch.Size)
    d = realize({"dict": {"a": 1, "b": {"tensor": [2.0]}}}, gen(), {})
    assert d["a"] == 1 and torch.equal(d["b"], torch.tensor([2.0]))


def test_lambda_ref_and_path_are_handed_on_as_markers():
    fn = realize({"lambda": "v: v[0] ** 2"}, gen(), {})
    assert isinstance(fn, Lambda) and fn.src == "v: v[0] ** 2" and fn([3]) == 9
    assert realize({"ref": "model"}, gen(), {}) == Ref("model")
    assert realize({"path": "model.pt"}, gen(), {}) == WorkPath("model.pt")


def test_data_takes_the_checks_hidden_data():
    value = torch.ones(2)
    assert realize({"data": "X"}, gen(), {"X": value}) is value
    with pytest.raises(KeyError, match="the check's data function gave no 'Y'"):
        realize({"data": "Y"}, gen(), {"X": value})


def test_modifiers_scale_then_shift_then_dtype():
    base = torch.randn(5, generator=gen())
    x = realize({"randn": [5], "scale": 10, "shift": 3, "dtype": "float64"}, gen(), {})
    assert x.dtype == torch.float64
    assert torch.allclose(x, (base * 10 + 3).double())


def test_requires_grad_and_as_list():
    x = realize({"randn": [3], "requires_grad": True}, gen(), {})
    assert x.requires_grad and x.is_leaf
    assert not realize({"randn": [3]}, gen(), {}).requires_grad
    as_list = realize({"tensor": [[1, 2]], "as_list": True}, gen(), {})
    assert as_list == [[1.0, 2.0]] and type(as_list) is list


def test_a_list_of_descriptions_draws_in_order_from_one_generator():
    g = gen()
    a, b = realize([{"randn": [2]}, {"randn": [2]}], g, {})
    reference = gen()
    assert torch.equal(a, torch.randn(2, generator=reference))
    assert torch.equal(b, torch.randn(2, generator=reference))


def test_mlp_draws_weights_like_linear_layers():
    spec = realize({"mlp": [["fc1", 4, 3], ["out", 3, 1]]}, gen(), {})
    assert isinstance(spec, MLPSpec) and spec.layers == [("fc1", 4, 3), ("out", 3, 1)]
    shapes = {k: tuple(v.shape) for k, v in spec.state.items()}
    assert shapes == {
        "fc1.weight": (3, 4),
        "fc1.bias": (3,),
        "out.weight": (1, 3),
        "out.bias": (1,),
    }
    assert float(spec.state["fc1.weight"].abs().max()) <= 0.5  # 1 / sqrt(fan_in 4)
    assert float(spec.state["out.weight"].abs().max()) <= 3**-0.5
    again = make_mlp([("fc1", 4, 3), ("out", 3, 1)], gen())
    assert all(torch.equal(again.state[k], v) for k, v in spec.state.items())


def test_torch_dtype():
    assert [torch_dtype(n) for n in DTYPE_NAMES] == [
        torch.float32,
        torch.float64,
        torch.float16,
        torch.int64,
        torch.int32,
        torch.uint8,
        torch.bool,
    ]
    with pytest.raises(KeyError):
        torch_dtype("complex64")


# ------------------------------------------------------------------ validate
@pytest.mark.parametrize(
    "raw, words",
    [
        ({"randn": [2], "rand": [2]}, "needs exactly one of the keys"),
        ({"shape": [2]}, "needs exactly one of the keys .*; got shape"),
        ({"randn": [2], "mean": 1}, "key 'mean': unknown beside 'randn'"),
        ({"randn": [2.5]}, "key 'randn': expected a shape"),
        ({"randn": [-1]}, "key 'randn': expected a shape"),
        ({"uniform": [0, 1]}, "key 'shape': required beside 'uniform'"),
        ({"uniform": [0], "shape": [2]}, r"key 'uniform': expected \[low, high\]"),
        ({"randint": [0, True], "shape": [2]}, r"key 'randint': expected \[low, high\]"),
        ({"ref": ""}, "key 'ref': expected text"),
        ({"lambda": "v: (v"}, "key 'lambda': not a valid lambda"),
        ({"lambda": "v=1: v"}, "key 'lambda': a lambda given as input may not have default values"),
        ({"lambda": "v: v, 1"}, "key 'lambda': expected one lambda"),
        ({"mlp": [["fc", 2]]}, "key 'mlp': expected a list of"),
        ({"mlp": []}, "key 'mlp': expected a list of"),
        ({"tensor": 3}, "key 'tensor': expected a list, got 3"),
        ({"tuple": [{"randn": "x"}]}, "key 'randn': expected a shape"),
        ({"dict": [1]}, "key 'dict': expected a mapping"),
        ({"dict": {"a": {"bogus": 1}}}, "needs exactly one of the keys"),
        ([1, {"size": "x"}], "key 'size': expected a shape"),
    ],
)
def test_validate_refuses_malformed_descriptions(raw: object, words: str):
    with pytest.raises(ExerciseError, match=words):
        validate(raw, "ex.yaml", 7)


def test_validate_accepts_every_generator():
    for raw in (
        {"randn": [2]},
        {"rand": []},
        {"uniform": [-1, 1.5], "shape": [2]},
        {"randint": [0, 9], "shape": [3], "dtype": "int32"},
        {"tensor": [[1]]},
        {"tuple": [1, {"rand": [1]}]},
        {"size": [1, 2]},
        {"dict": {"a": {"ref": "x"}}},
        {"lambda": "a, b: a + b"},
        {"ref": "x"},
        {"path": "p.pt"},
        {"mlp": [["a", 1, 2]]},
        {"data": "X"},
        3,
        "x",
        None,
    ):
        validate(raw, "ex.yaml", 1)


def test_a_malformed_input_is_reported_at_its_line_by_the_loader(tmp_path: Path):
    with pytest.raises(
        ExerciseError, match=r"exercises/unit.yaml:16: key 'randn': expected a shape"
    ):
        plan_check(tmp_path, "judge: match\ncall:\n  - 1\n  - {randn: [two]}")


def test_the_loader_validates_kwargs_and_steps_too(tmp_path: Path):
    with pytest.raises(ExerciseError, match="key 'lambda': not a valid lambda"):
        plan_check(tmp_path, "judge: match\ncall: [1]\nkwargs: {fn: {lambda: 'x: ('}}")
    with pytest.raises(ExerciseError, match="key 'rand': expected a shape"):
        plan_check(tmp_path / "s", "judge: match\nsteps:\n  - bind: {rand: x}\n    as: a")
    with pytest.raises(
        ExerciseError, match=r"unit.yaml:16: key 'dtype': expected one of float32, "
    ):
        plan_check(tmp_path / "d", "judge: match\ncall:\n  - randn: [2]\n    dtype: float128")


# ------------------------------------------------------------------ found by mutation testing
KEYS = "data, dict, lambda, mlp, path, rand, randint, randn, ref, size, tensor, tuple, uniform"
SHAPE = "expected a shape (list of whole numbers)"
MLP_WORDS = "key 'mlp': expected a list of [name, in_features, out_features]"


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {"randn": [2], "rand": [2]},
            f"an input mapping needs exactly one of the keys {KEYS}; got randn, rand",
        ),
        ({}, f"an input mapping needs exactly one of the keys {KEYS}; got none"),
        (
            {"randn": [2], "mean": 1},
            "key 'mean': unknown beside 'randn' (allowed: as_list, "
            "dtype, requires_grad, scale, shape, shift)",
        ),
        ({"randn": [2.5]}, f"key 'randn': {SHAPE}, got a list"),
        ({"rand": [True]}, f"key 'rand': {SHAPE}, got a list"),
        ({"size": "x"}, f"key 'size': {SHAPE}, got 'x'"),
        ({"uniform": [0, 1]}, "key 'shape': required beside 'uniform' as a list of whole numbers"),
        (
            {"randint": [0, 1], "shape": [1.5]},
            "key 'shape': required beside 'randint' as a list of whole numbers",
        ),
        ({"uniform": [0], "shape": [2]}, "key 'uniform': expected [low, high], got a list"),
        ({"randint": 5, "shape": [2]}, "key 'randint': expected [low, high], got 5"),
        ({"uniform": [0, "1"], "shape": [2]}, "key 'uniform': expected [low, high], got a list"),
        ({"ref": ""}, "key 'ref': expected text, got ''"),
        ({"path": "  "}, "key 'path': expected text, got '  '"),
        ({"data": 3}, "key 'data': expected text, got 3"),
        ({"lambda": "v=1: v"}, "key 'lambda': a lambda given as input may not have default values"),
        (
            {"lambda": "*, v=1: v"},
            "key 'lambda': a lambda given as input may not have default values",
        ),
        ({"lambda": "v: v, 1"}, "key 'lambda': expected one lambda, e.g. 'v: v[0] ** 2'"),
        ({"mlp": []}, MLP_WORDS),
        ({"mlp": "a"}, MLP_WORDS),
        ({"mlp": ["a"]}, MLP_WORDS),
        ({"mlp": [["fc", 2]]}, MLP_WORDS),
        ({"mlp": [[1, 2, 3]]}, MLP_WORDS),
        ({"mlp": [["a", -1, 2]]}, MLP_WORDS),
        ({"mlp": [["a", 2, True]]}, MLP_WORDS),
        ({"tensor": 3}, "key 'tensor': expected a list, got 3"),
        ({"tuple": "x"}, "key 'tuple': expected a list, got 'x'"),
        ({"dict": [1]}, "key 'dict': expected a mapping, got a list"),
        (b"x", "input b'x' is not a value the grader can pass"),
        (
            [1, [2, {"shape": [1]}]],
            f"an input mapping needs exactly one of the keys {KEYS}; got shape",
        ),
    ],
)
def test_validate_says_what_is_wrong_in_full(raw: object, message: str):
    with pytest.raises(ExerciseError) as caught:
        validate(raw, "ex.yaml", 7)
    assert str(caught.value) == f"ex.yaml:7: {message}"


def test_a_broken_lambda_says_why():
    with pytest.raises(ExerciseError) as caught:
        validate({"lambda": "v: (v"}, "ex.yaml", 7)
    assert str(caught.value).startswith("ex.yaml:7: key 'lambda': not a valid lambda (")


def located(data: dict, line: int, **key_lines: int) -> Located:
    mapping = Located(data)
    mapping.line, mapping.key_lines = line, key_lines
    return mapping


def test_validate_names_the_line_of_what_is_wrong():
    def message(raw: object) -> str:
        with pytest.raises(ExerciseError) as caught:
            validate(raw, "ex.yaml", 7)
        return str(caught.value)

    assert message([1, located({"randn": "x"}, 12)]).startswith("ex.yaml:12: key 'randn'")
    assert message(located({"randn": [2], "mean": 1}, 3, mean=4)).startswith(
        "ex.yaml:4: key 'mean'"
    )
    assert message(located({"randn": [2], "dtype": "float128"}, 3, dtype=5)) == (
        "ex.yaml:5: key 'dtype': expected one of float32, float64, float16, int64, int32, "
        "uint8, bool, got 'float128'"
    )
    assert message(located({"randn": [2], "dtype": 32}, 3)) == (
        "ex.yaml:3: key 'dtype': expected one of float32, float64, float16, int64, int32, "
        "uint8, bool, got 32"
    )
    nested = located({"dict": {"a": located({"rand": "x"}, 9)}}, 8)
    assert message(nested).startswith("ex.yaml:9: key 'rand'")  # the value's own line


def test_zero_is_a_whole_number_for_shapes_and_layers():
    validate({"randn": [0, 2]}, "ex.yaml", 1)
    validate({"mlp": [["a", 0, 2]]}, "ex.yaml", 1)
    assert realize({"randn": [0, 2]}, gen(), {}).shape == (0, 2)


def test_mlp_weights_fill_the_linear_layers_interval():
    # nn.Linear's init: uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)), here 1/sqrt(4) = 0.5.
    spec = make_mlp([("fc", 4, 500)], gen())
    for key in ("fc.weight", "fc.bias"):
        values = spec.state[key]
        assert float(values.min()) >= -0.5 and float(values.max()) < 0.5
        assert float(values.min()) < -0.45 and float(values.max()) > 0.45
    # A layer without inputs gets the bound 1, not a division by zero.
    empty = make_mlp([("fc", 0, 500)], gen())
    assert float(empty.state["fc.bias"].min()) < -0.9 and float(empty.state["fc.bias"].max()) > 0.9
