"""A typical mistake: torch.tensor(ids) without a dtype: an empty list gives float32."""

# must fail: encode returns an int64 tensor, even for an empty sentence

import torch


def build_vocab(sentences: list[str]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence.lower().split():
            if word not in vocab:
                vocab[word] = len(vocab) + 1  # id 0 is kept for unknown words
    return vocab


def encode(sentence: str, vocab: dict[str, int]) -> torch.Tensor:
    ids = [vocab.get(word, 0) for word in sentence.lower().split()]
    return torch.tensor(ids)
