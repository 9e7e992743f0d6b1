"""A typical mistake: torch.save(model) pickles the object, not its state_dict."""

# must fail: save_model writes the model's state_dict to the file
# must fail: save_model saves any model, whatever its layers

import torch
from torch import nn


class Model(nn.Module):
    """The regression-model network (defined again here, so this file stands alone)."""

    def __init__(self, in_features: int = 87) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, 64)
        self.fc2 = nn.Linear(64, 32)
        self.out = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.out(x)


def save_model(model: nn.Module, path) -> None:
    torch.save(model, path)


def load_model(path, in_features: int) -> Model:
    model = Model(in_features)
    model.load_state_dict(torch.load(path, weights_only=True))
    model.eval()
    return model
