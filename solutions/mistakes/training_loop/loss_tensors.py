"""A typical mistake: the loss tensors appended instead of loss.item()."""

# must fail: train returns one Python float per epoch, and the loss goes down

import torch
from torch import nn


def train(model, X, y, epochs=200, lr=0.01):
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        prediction = model(X)
        loss = loss_fn(prediction, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss)
    return losses
