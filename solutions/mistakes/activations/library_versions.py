"""A typical mistake: the library's own functions, which the exercise forbids."""

# must fail: relu is written without the library's own ReLU
# must fail: sigmoid is written without the library's own sigmoid
# must fail: tanh is written without the library's own tanh

import torch


def relu(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    # exp(-|x|) is at most 1, so nothing overflows for large |x|:
    #   x >= 0: 1 / (1 + e^-x);   x < 0: e^x / (1 + e^x), written with e^-|x|.
    return torch.sigmoid(x)


def tanh(x: torch.Tensor) -> torch.Tensor:
    # tanh(|x|) = (1 - e^(-2|x|)) / (1 + e^(-2|x|)), then restore the sign (tanh is odd).
    return torch.tanh(x)
