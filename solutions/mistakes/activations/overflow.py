"""A typical mistake: the textbook formulas: exp(x) overflows to inf and inf / inf is NaN."""

# must fail: sigmoid stays finite and correct for inputs up to 1e4
# must fail: tanh stays finite and correct for inputs up to 1e4

import torch


def relu(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, min=0.0)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    # exp(-|x|) is at most 1, so nothing overflows for large |x|:
    #   x >= 0: 1 / (1 + e^-x);   x < 0: e^x / (1 + e^x), written with e^-|x|.
    return torch.exp(x) / (1.0 + torch.exp(x))


def tanh(x: torch.Tensor) -> torch.Tensor:
    # tanh(|x|) = (1 - e^(-2|x|)) / (1 + e^(-2|x|)), then restore the sign (tanh is odd).
    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
