"""The network the grader hands to student code, built from a plain description.

Named Linear layers with ReLU between them: the sandbox builds it from an ``mlp`` input
(training, saving), the grader builds the same one to evaluate a trained state on its
held-out set. Module-level, so a student's ``torch.save(model)`` pickles it and the
state_dict check can say why that is not a state_dict.

``Net`` is the general form (a ``net`` input, ``NetSpec``): named layers of the kinds in
``LAYER_KINDS`` (Conv2d, Linear, ReLU, Flatten, ...) run in order. A course's model
"factory" is such a list, made by a hidden helper in the grader; only the list and the
starting weights cross the boundary, never the helper's code.
"""

from __future__ import annotations

from typing import Any

import torch


class MLP(torch.nn.Module):
    def __init__(self, layers: list[list[Any]]) -> None:
        super().__init__()
        self.names = [str(name) for name, _, _ in layers]
        for name, fan_in, fan_out in layers:
            setattr(self, str(name), torch.nn.Linear(int(fan_in), int(fan_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, name in enumerate(self.names):
            x = getattr(self, name)(x)
            if i < len(self.names) - 1:
                x = torch.relu(x)
        return x


# The layers a ``net`` spec may name, each with the types of its arguments (ints, or a
# float for Dropout's p): the architecture crosses the boundary as this plain data only,
# so the sandbox builds it without any of the course's hidden files.
LAYER_KINDS: dict[str, tuple[tuple[type, ...], int]] = {
    # kind: (argument types, how many of them are required)
    "Linear": ((int, int), 2),
    "Conv2d": ((int, int, int, int, int), 3),  # in, out, kernel[, stride[, padding]]
    "MaxPool2d": ((int, int), 1),  # kernel[, stride]
    "AvgPool2d": ((int, int), 1),
    "BatchNorm1d": ((int,), 1),
    "BatchNorm2d": ((int,), 1),
    "Dropout": ((float,), 0),
    "Flatten": ((), 0),
    "ReLU": ((), 0),
    "Tanh": ((), 0),
    "Sigmoid": ((), 0),
}


def layer_problem(layer: Any) -> str:
    """Why ``layer`` is not ``[name, kind, *args]`` of a known kind ("" if it is)."""
    if not (isinstance(layer, (list, tuple)) and len(layer) >= 2):
        return "a layer is [name, kind, arguments...]"
    name, kind, args = layer[0], layer[1], list(layer[2:])
    if not (isinstance(name, str) and name.isidentifier()):
        return f"a layer's name must be a Python name, got {name!r:.40}"
    if kind not in LAYER_KINDS:
        return f"unknown layer kind {str(kind)!r:.40} (known: {', '.join(LAYER_KINDS)})"
    types, required = LAYER_KINDS[kind]
    if not required <= len(args) <= len(types):
        count = str(required) if required == len(types) else f"{required} to {len(types)}"
        return f"layer '{name}': {kind} takes {count} arguments"
    for arg, kind_of in zip(args, types, strict=False):  # optional ones may be left out
        ok = (
            isinstance(arg, int) and not isinstance(arg, bool) and arg >= 0
            if kind_of is int
            else isinstance(arg, (int, float)) and not isinstance(arg, bool) and 0 <= arg < 1
        )
        if not ok:
            return f"layer '{name}': {kind}'s arguments must be whole numbers (Dropout: 0 <= p < 1)"
    return ""


class Net(torch.nn.Sequential):
    """A network built from ``[[name, kind, *args], ...]`` (kinds in LAYER_KINDS), run in
    order; its state_dict keys are ``<name>.weight`` and so on, like MLP's."""

    def __init__(self, layers: list[list[Any]]) -> None:
        from collections import OrderedDict

        built = OrderedDict()
        for layer in layers:
            problem = layer_problem(layer)
            if problem:
                raise ValueError(problem)
            name, kind, args = str(layer[0]), str(layer[1]), list(layer[2:])
            built[name] = getattr(torch.nn, kind)(*args)
        super().__init__(built)
        self.layers = [list(layer) for layer in layers]


def make_net(layers: list[list[Any]], seed: int) -> Any:
    """A ``NetSpec`` of ``layers`` with starting weights drawn by torch's default
    initialisation from ``seed`` (the same on every run, whatever the global generator)."""
    from .values import NetSpec

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = Net(layers)
    return NetSpec(
        layers=[list(layer) for layer in layers],
        state={k: v.detach().clone() for k, v in net.state_dict().items()},
    )
