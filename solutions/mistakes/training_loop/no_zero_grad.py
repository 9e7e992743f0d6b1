"""A typical mistake: optimizer.zero_grad() forgotten: gradients pile up."""

# must fail: train fits a model that predicts held-out data well

import torch
from torch import nn


def train(model, X, y, epochs=200, lr=0.01):
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        prediction = model(X)
        loss = loss_fn(prediction, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
