"""Ben's work."""

import torch


def build_vocab(sentences: list[str]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence.lower().split():
            if word not in vocab:
                vocab[word] = len(vocab) + 1  # id 0 is kept for unknown words
    return vocab


def encode(sentence: str, vocab: dict[str, int]) -> torch.Tensor:
    ids = [vocab[word] for word in sentence.lower().split()]  # unknown words?
    return torch.tensor(ids, dtype=torch.int64)
