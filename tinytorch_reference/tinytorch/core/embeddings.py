"""Module 11: embeddings.

An embedding lookup is `weight[indices]`: Tensor indexing already routes gradients back with np.add.at,
so a token that appears twice in a batch receives both gradients. Positional encodings are *learned*
(the course's choice and GPT-2's): one trainable row per position, added to the token embeddings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .layers import Layer
from .tensor import FLOAT, Tensor

__all__ = ["Embedding", "PositionalEncoding"]


def _indices(indices: Any) -> np.ndarray:
    data = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    as_int = data.astype(np.int64)
    if data.dtype.kind == "f" and not np.array_equal(as_int, data):
        raise TypeError("embedding indices must be whole numbers")
    return as_int


class Embedding(Layer):
    def __init__(self, vocab_size: int, embed_dim: int) -> None:
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        # Xavier-uniform, as in the course: keeps the first layer's inputs at unit-ish scale.
        limit = np.sqrt(6.0 / (vocab_size + embed_dim))
        weight = np.random.uniform(-limit, limit, (vocab_size, embed_dim))
        self.weight = Tensor(weight.astype(FLOAT), requires_grad=True)

    def forward(self, indices: Any) -> Tensor:
        """(...) integer ids -> (..., embed_dim) vectors."""
        ids = _indices(indices)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise IndexError(f"token id out of range [0, {self.vocab_size}): "
                             f"min {ids.min()}, max {ids.max()}")
        return self.weight[ids]

    def parameters(self) -> list[Tensor]:
        return [self.weight]

    def __repr__(self) -> str:
        return f"Embedding({self.vocab_size}, {self.embed_dim})"


class PositionalEncoding(Layer):
    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        self.max_seq_len = max_seq_len
        self.embed_dim = embed_dim
        # Small random start: the model sees distinct positions from step one without drowning the
        # token embeddings.
        weight = np.random.normal(0.0, 0.02, (max_seq_len, embed_dim))
        self.position_embeddings = Tensor(weight.astype(FLOAT), requires_grad=True)

    def forward(self, x: Any, offset: int = 0) -> Tensor:
        """x of shape (B, S, D) or (S, D) plus position vectors offset .. offset+S-1.

        `offset` serves cached generation, where x holds only the newest positions.
        """
        x = x if isinstance(x, Tensor) else Tensor(x)
        end = offset + x.shape[-2]
        if end > self.max_seq_len:
            raise ValueError(f"sequence length {end} exceeds max_seq_len {self.max_seq_len}")
        if x.shape[-1] != self.embed_dim:
            raise ValueError(f"expected embedding dimension {self.embed_dim}, got {x.shape[-1]}")
        return x + self.position_embeddings[offset:end]

    def parameters(self) -> list[Tensor]:
        return [self.position_embeddings]

    def __repr__(self) -> str:
        return f"PositionalEncoding({self.max_seq_len}, {self.embed_dim})"
