"""A typical mistake: no ReLU between the layers: one linear map."""

# must fail: forward computes relu(fc1) -> relu(fc2) -> out for a batch of 5

import torch
from torch import nn


class Model(nn.Module):
    def __init__(self, in_features: int = 87) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, 64)
        self.fc2 = nn.Linear(64, 32)
        self.out = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1(x)
        x = self.fc2(x)
        return self.out(x)
