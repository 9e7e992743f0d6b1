"""A typical mistake: v.mean() over all numbers instead of per column."""

# must fail: center_vertices moves the centroid to the origin
# must fail: center_vertices of a mesh far from the origin

import torch


def vertices_to_tensor(vertices) -> torch.Tensor:
    # reshape(-1, 3) gives an empty list the shape [0, 3] instead of [0].
    return torch.tensor(vertices, dtype=torch.float32).reshape(-1, 3)


def center_vertices(v: torch.Tensor) -> torch.Tensor:
    # A new tensor: v itself is left as it was.
    return v - v.mean()
