"""A typical mistake: the formula 2 * x instead of autograd."""

# must fail: derivative_of_square computes the derivative with autograd

import torch


def derivative_of_square(x: float) -> float:
    return 2 * x


def gradient(f, point: torch.Tensor) -> torch.Tensor:
    v = point.detach().clone().requires_grad_(True)
    out = f(v)
    (grad,) = torch.autograd.grad(out, v)
    return grad.detach()
