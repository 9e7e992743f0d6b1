"""A typical mistake: torch.randn where the uniform distribution is asked for."""

# must fail: make_uniform draws from the uniform distribution on [0, 1)

import torch


def make_uniform(n: int) -> torch.Tensor:
    return torch.randn(n)


def make_normal(shape) -> torch.Tensor:
    return torch.randn(shape)


def make_zeros(rows: int, cols: int) -> torch.Tensor:
    return torch.zeros(rows, cols)


def make_identity(n: int) -> torch.Tensor:
    return torch.eye(n)


def make_uninitialized(shape) -> torch.Tensor:
    return torch.empty(shape)
