"""A typical mistake: keepdim=True: a [1, cols] matrix instead of a 1-D tensor."""

# must fail: column_mean of a tall matrix
# must fail: column_mean of a single row

import torch


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return x @ weight.T + bias


def column_mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=0, keepdim=True)


def row_sum(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=1)
