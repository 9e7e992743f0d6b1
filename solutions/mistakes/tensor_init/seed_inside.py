"""A typical mistake: torch.manual_seed inside the function: every call draws the same."""

# must fail: make_normal draws fresh samples on every call

import torch


def make_uniform(n: int) -> torch.Tensor:
    return torch.rand(n)


def make_normal(shape) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(shape)


def make_zeros(rows: int, cols: int) -> torch.Tensor:
    return torch.zeros(rows, cols)


def make_identity(n: int) -> torch.Tensor:
    return torch.eye(n)


def make_uninitialized(shape) -> torch.Tensor:
    return torch.empty(shape)
