"""The network the grader hands to student code, built from a plain description.

Named Linear layers with ReLU between them: the sandbox builds it from an ``mlp`` input
(training, saving), the grader builds the same one to evaluate a trained state on its
held-out set. Module-level, so a student's ``torch.save(model)`` pickles it and the
state_dict check can say why that is not a state_dict.
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
