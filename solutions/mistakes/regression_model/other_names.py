"""A typical mistake: layers named layer1, layer2, output instead of fc1, fc2, out."""

# must fail: Model(in_features=87) has layers fc1, fc2 and out of the right sizes

import torch
from torch import nn


class Model(nn.Module):
    def __init__(self, in_features: int = 87) -> None:
        super().__init__()
        self.layer1 = nn.Linear(in_features, 64)
        self.layer2 = nn.Linear(64, 32)
        self.output = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.layer1(x))
        x = torch.relu(self.layer2(x))
        return self.output(x)
