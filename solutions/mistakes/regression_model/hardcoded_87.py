"""A typical mistake: nn.Linear(87, 64) whatever in_features is."""

# must fail: Model(in_features=10) adapts its first layer
# must fail: forward on a single row with 10 input features

import torch
from torch import nn


class Model(nn.Module):
    def __init__(self, in_features: int = 87) -> None:
        super().__init__()
        self.fc1 = nn.Linear(87, 64)
        self.fc2 = nn.Linear(64, 32)
        self.out = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.out(x)
