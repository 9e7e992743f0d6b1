"""A typical mistake: zeros in float64 (NumPy's habit) instead of float32."""

# must fail: make_zeros gives a 3 x 5 matrix of zeros
# must fail: make_zeros gives a single-row matrix

import torch


def make_uniform(n: int) -> torch.Tensor:
    return torch.rand(n)


def make_normal(shape) -> torch.Tensor:
    return torch.randn(shape)


def make_zeros(rows: int, cols: int) -> torch.Tensor:
    return torch.zeros(rows, cols, dtype=torch.float64)


def make_identity(n: int) -> torch.Tensor:
    return torch.eye(n)


def make_uninitialized(shape) -> torch.Tensor:
    return torch.empty(shape)
