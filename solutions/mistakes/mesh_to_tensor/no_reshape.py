"""A typical mistake: no reshape(-1, 3): an empty mesh has shape [0]."""

# must fail: an empty mesh gives shape [0, 3]

import torch


def vertices_to_tensor(vertices) -> torch.Tensor:
    # reshape(-1, 3) gives an empty list the shape [0, 3] instead of [0].
    return torch.tensor(vertices, dtype=torch.float32)


def center_vertices(v: torch.Tensor) -> torch.Tensor:
    # A new tensor: v itself is left as it was.
    return v - v.mean(dim=0)
