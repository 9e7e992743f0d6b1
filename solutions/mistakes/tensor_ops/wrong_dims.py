"""A typical mistake: dim=1 and dim=0 swapped."""

# must fail: column_mean of a tall matrix
# must fail: row_sum of a wide matrix

import torch


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return x @ weight.T + bias


def column_mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=1)


def row_sum(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=0)
