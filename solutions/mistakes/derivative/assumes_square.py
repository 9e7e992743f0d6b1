"""A typical mistake: assumes f is the sum of squares and returns 2 * point."""

# must fail: gradient of a sum of sines
# must fail: gradient of a product of all coordinates

import torch


def derivative_of_square(x: float) -> float:
    t = torch.tensor(x, requires_grad=True)
    y = t**2
    y.backward()
    return t.grad.item()


def gradient(f, point: torch.Tensor) -> torch.Tensor:
    return 2 * point
