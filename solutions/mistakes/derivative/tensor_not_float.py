"""A typical mistake: returns the gradient tensor, not a Python float (.item() forgotten)."""

# must fail: derivative_of_square at x = 3 returns the float 6

import torch


def derivative_of_square(x: float) -> float:
    t = torch.tensor(x, requires_grad=True)
    y = t**2
    y.backward()
    return t.grad


def gradient(f, point: torch.Tensor) -> torch.Tensor:
    v = point.detach().clone().requires_grad_(True)
    out = f(v)
    (grad,) = torch.autograd.grad(out, v)
    return grad.detach()
