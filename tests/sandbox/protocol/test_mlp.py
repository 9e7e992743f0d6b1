"""mlp.Net and make_net: a network described as plain layers, checked before anything
is built (the description is the course's, but a typo must say which layer)."""

from __future__ import annotations

import re

import pytest
import torch

from grader.sandbox.protocol.mlp import LAYER_KINDS, Net, layer_problem, make_net


@pytest.mark.parametrize(
    "layer, words",
    [
        ("fc", "a layer is [name, kind, arguments...]"),
        (["1fc", "Linear", 2, 3], "must be a Python name"),
        (["fc", "Dense", 2, 3], "unknown layer kind 'Dense'"),
        (["fc", "Linear", 2], "Linear takes 2 arguments"),
        (["fc", "Linear", 2, 3.5], "must be whole numbers"),
        (["fc", "Linear", 2, True], "must be whole numbers"),
        (["drop", "Dropout", 1.5], "0 <= p < 1"),
        (["conv", "Conv2d", 1, 2], "Conv2d takes 3 to 5 arguments"),
        (["act", "ReLU", 1], "ReLU takes 0 arguments"),
    ],
)
def test_a_wrong_layer_is_named(layer: object, words: str):
    assert words in layer_problem(layer)
    with pytest.raises(ValueError, match=re.escape(words)):
        Net([layer])  # type: ignore[list-item]


def test_every_kind_builds_and_runs():
    layers = [
        ["conv", "Conv2d", 1, 4, 3, 1, 1],
        ["norm", "BatchNorm2d", 4],
        ["act", "Tanh"],
        ["pool", "MaxPool2d", 2],
        ["avg", "AvgPool2d", 1],
        ["flat", "Flatten"],
        ["drop", "Dropout", 0.1],
        ["fc", "Linear", 64, 8],
        ["norm1", "BatchNorm1d", 8],
        ["relu", "ReLU"],
        ["out", "Linear", 8, 1],
        ["sig", "Sigmoid"],
    ]
    assert {layer[1] for layer in layers} == set(LAYER_KINDS)
    assert all(layer_problem(layer) == "" for layer in layers)
    out = Net(layers).eval()(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 1) and bool(((out > 0) & (out < 1)).all())


def test_make_net_is_the_same_for_a_seed_whatever_the_global_generator():
    layers = [["fc", "Linear", 3, 2]]
    torch.manual_seed(1)
    first = make_net(layers, 5)
    torch.manual_seed(2)
    again, other = make_net(layers, 5), make_net(layers, 6)
    assert torch.equal(first.state["fc.weight"], again.state["fc.weight"])
    assert not torch.equal(first.state["fc.weight"], other.state["fc.weight"])
