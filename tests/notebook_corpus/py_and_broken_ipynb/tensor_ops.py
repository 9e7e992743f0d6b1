"""Operations on tensors: my solution (the notebook would not open any more)."""

import torch


def linear_forward(x, weight, bias):
    """Return x @ weight.T + bias, shape [N, out]."""
    return x @ weight.T + bias


def column_mean(x):
    """Return the mean of each column of the 2-D tensor x, shape [cols]."""
    return x.mean(dim=0)


def row_sum(x):
    """Return the sum of each row of the 2-D tensor x, shape [rows]."""
    return x.sum(dim=1)
