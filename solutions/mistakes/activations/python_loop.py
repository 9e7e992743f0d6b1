"""A typical mistake: relu computed number by number in Python: autograd cannot follow it."""

# must fail: autograd gives the gradient of relu for positive inputs

import torch


def relu(x: torch.Tensor) -> torch.Tensor:
    values = [max(v, 0.0) for v in x.flatten().tolist()]
    return torch.tensor(values).reshape(x.shape)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    # exp(-|x|) is at most 1, so nothing overflows for large |x|:
    #   x >= 0: 1 / (1 + e^-x);   x < 0: e^x / (1 + e^x), written with e^-|x|.
    z = torch.exp(-torch.abs(x))
    return torch.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def tanh(x: torch.Tensor) -> torch.Tensor:
    # tanh(|x|) = (1 - e^(-2|x|)) / (1 + e^(-2|x|)), then restore the sign (tanh is odd).
    z = torch.exp(-2.0 * torch.abs(x))
    t = (1.0 - z) / (1.0 + z)
    return torch.where(x >= 0, t, -t)
