"""A typical mistake: ids numbered from 0, the id kept for unknown words."""

# must fail: build_vocab numbers words from 1 in order of first appearance

import torch


def build_vocab(sentences: list[str]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence.lower().split():
            if word not in vocab:
                vocab[word] = len(vocab)  # id 0 is kept for unknown words
    return vocab


def encode(sentence: str, vocab: dict[str, int]) -> torch.Tensor:
    ids = [vocab.get(word, 0) for word in sentence.lower().split()]
    return torch.tensor(ids, dtype=torch.int64)
