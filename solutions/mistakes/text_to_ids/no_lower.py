"""A typical mistake: words not lower-cased."""

# must fail: build_vocab lower-cases words
# must fail: encode lower-cases the sentence

import torch


def build_vocab(sentences: list[str]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence.split():
            if word not in vocab:
                vocab[word] = len(vocab) + 1  # id 0 is kept for unknown words
    return vocab


def encode(sentence: str, vocab: dict[str, int]) -> torch.Tensor:
    ids = [vocab.get(word, 0) for word in sentence.split()]
    return torch.tensor(ids, dtype=torch.int64)
