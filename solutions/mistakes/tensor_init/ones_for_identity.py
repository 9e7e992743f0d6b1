"""A typical mistake: a matrix of ones instead of the identity."""

# must fail: make_identity gives the 4 x 4 identity

import torch


def make_uniform(n: int) -> torch.Tensor:
    return torch.rand(n)


def make_normal(shape) -> torch.Tensor:
    return torch.randn(shape)


def make_zeros(rows: int, cols: int) -> torch.Tensor:
    return torch.zeros(rows, cols)


def make_identity(n: int) -> torch.Tensor:
    return torch.ones(n, n)


def make_uninitialized(shape) -> torch.Tensor:
    return torch.empty(shape)
