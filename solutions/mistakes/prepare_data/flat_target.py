"""A typical mistake: y of shape [N] instead of [N, 1]."""

# must fail: split_features_target takes out a middle column
# must fail: split_features_target takes out the last column

import torch


def split_features_target(table: torch.Tensor, target_col: int):
    keep = [c for c in range(table.shape[1]) if c != target_col]
    X = table[:, keep]
    y = table[:, target_col]
    return X, y


def train_val_split(X: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int):
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(X.shape[0], generator=gen)
    n_val = int(X.shape[0] * val_fraction)
    val_idx, train_idx = order[:n_val], order[n_val:]
    return X[train_idx], X[val_idx], y[train_idx], y[val_idx]


def standardize(X_train: torch.Tensor, X_val: torch.Tensor):
    mean = X_train.mean(dim=0)
    std = X_train.std(dim=0)
    std = torch.where(std == 0, torch.ones_like(std), std)
    return (X_train - mean) / std, (X_val - mean) / std, mean, std
