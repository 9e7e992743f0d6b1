"""A typical mistake: v -= mean changes the caller's tensor."""

# must fail: center_vertices leaves the caller's v unchanged

import torch


def vertices_to_tensor(vertices) -> torch.Tensor:
    # reshape(-1, 3) gives an empty list the shape [0, 3] instead of [0].
    return torch.tensor(vertices, dtype=torch.float32).reshape(-1, 3)


def center_vertices(v: torch.Tensor) -> torch.Tensor:
    # A new tensor: v itself is left as it was.
    v -= v.mean(dim=0)
    return v
