"""A typical mistake: requires_grad_ on the caller's point itself."""

# must fail: gradient of the sum of squares at a random point

import torch


def derivative_of_square(x: float) -> float:
    t = torch.tensor(x, requires_grad=True)
    y = t**2
    y.backward()
    return t.grad.item()


def gradient(f, point: torch.Tensor) -> torch.Tensor:
    point.requires_grad_(True)
    out = f(point)
    out.backward()
    return point.grad
