"""A typical mistake: X and y shuffled by two different permutations: rows no longer paired."""

# must fail: train_val_split puts every row in exactly one part, X and y still paired

import torch


def split_features_target(table: torch.Tensor, target_col: int):
    keep = [c for c in range(table.shape[1]) if c != target_col]
    X = table[:, keep]
    y = table[:, target_col].unsqueeze(1)
    return X, y


def train_val_split(X: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int):
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(X.shape[0], generator=gen)
    n_val = int(X.shape[0] * val_fraction)
    y_order = torch.randperm(X.shape[0], generator=gen)
    X, y = X[order], y[y_order]
    return X[n_val:], X[:n_val], y[n_val:], y[:n_val]


def standardize(X_train: torch.Tensor, X_val: torch.Tensor):
    mean = X_train.mean(dim=0)
    std = X_train.std(dim=0)
    std = torch.where(std == 0, torch.ones_like(std), std)
    return (X_train - mean) / std, (X_val - mean) / std, mean, std
