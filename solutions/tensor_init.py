"""Reference solution: tensor-init."""

import torch


def make_uniform(n: int) -> torch.Tensor:
    return torch.rand(n)


def make_normal(shape) -> torch.Tensor:
    return torch.randn(shape)


def make_zeros(rows: int, cols: int) -> torch.Tensor:
    return torch.zeros(rows, cols)


def make_identity(n: int) -> torch.Tensor:
    return torch.eye(n)


def make_uninitialized(shape) -> torch.Tensor:
    return torch.empty(shape)
