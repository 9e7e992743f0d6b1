"""A typical mistake: requires_grad_ on the caller's point itself."""

# must fail: gradient returns a detached tensor and leaves the caller's point unchanged

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
