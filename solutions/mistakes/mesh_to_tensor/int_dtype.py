"""A typical mistake: torch.tensor(vertices) without a dtype: whole numbers give int64."""

# must fail: whole-number coordinates still give float32 (a cube's 8 corners)

import torch


def vertices_to_tensor(vertices) -> torch.Tensor:
    # reshape(-1, 3) gives an empty list the shape [0, 3] instead of [0].
    return torch.tensor(vertices).reshape(-1, 3)


def center_vertices(v: torch.Tensor) -> torch.Tensor:
    # A new tensor: v itself is left as it was.
    return v - v.mean(dim=0)
