"""A typical mistake: the bias is forgotten."""

# must fail: linear_forward matches nn.Linear on a random batch
# must fail: linear_forward works for a single output feature

import torch


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return x @ weight.T


def column_mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=0)


def row_sum(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=1)
