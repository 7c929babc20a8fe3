"""Module 12: attention.

Attention is composed from Tensor primitives (matmul, transpose, reshape, softmax) and has no backward
code of its own. Heads are a reshape and a transpose, never a Python loop: every head of every batch
element goes through the same batched matmul.

Mask convention: positions where `mask == 0` are blocked. They get a large negative constant added to
their scores, so softmax gives them (numerically) zero weight.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .activations import softmax
from .layers import Layer, Linear
from .tensor import FLOAT, Tensor

__all__ = ["MultiHeadAttention", "scaled_dot_product_attention"]

# Large enough that exp(score + BLOCKED - max) underflows to 0 in float32, small enough to stay finite.
BLOCKED = FLOAT(-1e9)


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _additive_mask(mask: Any, scores_ndim: int) -> Tensor:
    """0 where attention is allowed, BLOCKED where mask == 0, as a constant Tensor."""
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if scores_ndim == 4 and m.ndim == 3:
        # A (B, S, S) mask is per batch element: give it a head axis so it does not line up B with heads.
        m = m[:, None]
    return Tensor(np.where(m == 0, BLOCKED, FLOAT(0.0)))


def scaled_dot_product_attention(Q: Any, K: Any, V: Any, mask: Any = None) -> tuple[Tensor, Tensor]:
    """softmax(Q K^T / sqrt(d_k) + mask) V over the last two axes; any leading (batch, head) axes.

    Returns (output, attention_weights); the weights are part of the graph.
    """
    Q, K, V = _tensor(Q), _tensor(K), _tensor(V)
    scores = Q.matmul(K.transpose(-2, -1)) * (1.0 / math.sqrt(Q.shape[-1]))
    if mask is not None:
        scores = scores + _additive_mask(mask, scores.ndim)
    weights = softmax(scores, dim=-1)
    return weights.matmul(V), weights


class MultiHeadAttention(Layer):
    """Self-attention with `num_heads` heads of size embed_dim // num_heads."""

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = Linear(embed_dim, embed_dim)
        self.k_proj = Linear(embed_dim, embed_dim)
        self.v_proj = Linear(embed_dim, embed_dim)
        self.out_proj = Linear(embed_dim, embed_dim)

    def _heads(self, t: Tensor, batch: int, seq: int) -> Tensor:
        """(B, S, D) -> (B, H, S, Dh)."""
        return t.reshape(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Any, mask: Any = None, kv_cache: Any = None, layer_idx: int = 0) -> Tensor:
        """(B, S, D) -> (B, S, D); a 2-D (S, D) input is treated as a batch of one.

        With `kv_cache` (a `perf.memoization.KVCache`), this call's keys and values are appended to the
        cache of `layer_idx` and the queries attend to everything cached so far (generation).
        """
        x = _tensor(x)
        unbatched = x.ndim == 2
        if unbatched:
            x = x.reshape(1, *x.shape)
        batch, seq, dim = x.shape
        if dim != self.embed_dim:
            raise ValueError(f"expected embedding dimension {self.embed_dim}, got {dim}")
        q = self._heads(self.q_proj(x), batch, seq)
        k = self._heads(self.k_proj(x), batch, seq)
        v = self._heads(self.v_proj(x), batch, seq)
        if kv_cache is not None:
            kv_cache.update(layer_idx, k, v)
            k, v = kv_cache.get(layer_idx)
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, seq, dim))
        return out.reshape(seq, dim) if unbatched else out

    def parameters(self) -> list[Tensor]:
        projections = (self.q_proj, self.k_proj, self.v_proj, self.out_proj)
        return [p for proj in projections for p in proj.parameters()]

    def __repr__(self) -> str:
        return f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"
