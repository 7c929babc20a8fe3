"""Module 13: transformers (LayerNorm, MLP, TransformerBlock, GPT).

Everything is composed from Tensor primitives; gradients need no code here. The block is pre-norm
(GPT-2): x + attn(ln1(x)), then x + mlp(ln2(x)), which keeps a clean residual path from output to input.

Dropout follows `Layer.training` (True after construction, like PyTorch): call `model.eval()` for
deterministic outputs. `GPT.generate` switches to eval mode itself and restores the previous mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..perf.memoization import KVCache
from .activations import GELU
from .attention import MultiHeadAttention
from .embeddings import Embedding, PositionalEncoding
from .layers import Dropout, Layer, Linear
from .tensor import FLOAT, Tensor, no_grad

__all__ = ["GPT", "MLP", "LayerNorm", "TransformerBlock", "create_causal_mask"]


def create_causal_mask(seq_len: int) -> Tensor:
    """(1, S, S): 1 on and below the diagonal (position i may attend to j <= i), 0 above."""
    return Tensor(np.tril(np.ones((seq_len, seq_len), dtype=FLOAT))[None])


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class LayerNorm(Layer):
    """Normalise over the trailing `normalized_shape` axes, then scale by gamma and shift by beta."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5) -> None:
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = shape
        self.eps = float(eps)
        self.gamma = Tensor(np.ones(shape, dtype=FLOAT), requires_grad=True)
        self.beta = Tensor(np.zeros(shape, dtype=FLOAT), requires_grad=True)

    def forward(self, x: Any) -> Tensor:
        x = _tensor(x)
        axes = tuple(range(-len(self.normalized_shape), 0))
        centered = x - x.mean(axis=axes, keepdims=True)
        # Biased variance (divide by N), as in PyTorch's LayerNorm.
        variance = (centered * centered).mean(axis=axes, keepdims=True)
        return centered / (variance + self.eps).sqrt() * self.gamma + self.beta

    def parameters(self) -> list[Tensor]:
        return [self.gamma, self.beta]

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_shape}, eps={self.eps})"


class MLP(Layer):
    """Linear(D, hidden) -> GELU -> Linear(hidden, D); hidden defaults to 4 * D."""

    def __init__(self, embed_dim: int, hidden_dim: int | None = None) -> None:
        self.embed_dim = embed_dim
        self.hidden_dim = 4 * embed_dim if hidden_dim is None else hidden_dim
        self.linear1 = Linear(embed_dim, self.hidden_dim)
        self.activation = GELU()
        self.linear2 = Linear(self.hidden_dim, embed_dim)

    def forward(self, x: Any) -> Tensor:
        return self.linear2(self.activation(self.linear1(x)))

    def parameters(self) -> list[Tensor]:
        return self.linear1.parameters() + self.linear2.parameters()


class TransformerBlock(Layer):
    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: int = 4, dropout_prob: float = 0.1) -> None:
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.ln1 = LayerNorm(embed_dim)
        self.attention = MultiHeadAttention(embed_dim, num_heads)
        self.ln2 = LayerNorm(embed_dim)
        self.mlp = MLP(embed_dim, int(embed_dim * mlp_ratio))
        self.dropout = Dropout(dropout_prob)

    def forward(self, x: Any, mask: Any = None, kv_cache: KVCache | None = None,
                layer_idx: int = 0) -> Tensor:
        x = _tensor(x)
        x = x + self.dropout(self.attention(self.ln1(x), mask, kv_cache, layer_idx))
        return x + self.dropout(self.mlp(self.ln2(x)))


class GPT(Layer):
    """Decoder-only language model: token + learned position embeddings, blocks, final norm, LM head."""

    def __init__(self, vocab_size: int, embed_dim: int, num_layers: int, num_heads: int,
                 max_seq_len: int = 1024) -> None:
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.max_seq_len = max_seq_len
        self.token_embedding = Embedding(vocab_size, embed_dim)
        self.position_encoding = PositionalEncoding(max_seq_len, embed_dim)
        self.blocks = [TransformerBlock(embed_dim, num_heads) for _ in range(num_layers)]
        self.ln_f = LayerNorm(embed_dim)
        self.lm_head = Linear(embed_dim, vocab_size)

    def forward(self, tokens: Any) -> Tensor:
        """(B, S) token ids -> (B, S, vocab_size) logits; a 1-D (S,) input gives (S, vocab_size)."""
        ids = _token_array(tokens)
        unbatched = ids.ndim == 1
        logits = self._run(ids[None] if unbatched else ids, create_causal_mask(ids.shape[-1]))
        return logits.reshape(logits.shape[1:]) if unbatched else logits

    def _run(self, ids: np.ndarray, mask: Any, cache: KVCache | None = None, offset: int = 0) -> Tensor:
        x = self.position_encoding(self.token_embedding(ids), offset)
        for index, block in enumerate(self.blocks):
            x = block(x, mask, cache, index)
        return self.lm_head(self.ln_f(x))

    def generate(self, prompt_tokens: Any, max_new_tokens: int, use_cache: bool = True) -> np.ndarray:
        """Greedy decoding: append the arg-max token `max_new_tokens` times.

        Returns the prompt followed by the new tokens, (B, S + n) for a (B, S) prompt or (S + n,) for a
        1-D one. With `use_cache` the prompt is run once and each step then feeds only its newest token
        through the network, reading earlier keys and values from a KVCache; without it every step
        recomputes the whole sequence. Both give the same tokens.
        """
        ids = _token_array(prompt_tokens)
        unbatched = ids.ndim == 1
        ids = ids[None] if unbatched else ids
        if ids.shape[1] + max_new_tokens > self.max_seq_len:
            raise ValueError(f"prompt ({ids.shape[1]}) + {max_new_tokens} new tokens exceeds "
                             f"max_seq_len {self.max_seq_len}")
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                ids = self._generate_cached(ids, max_new_tokens) if use_cache else \
                    self._generate_full(ids, max_new_tokens)
        finally:
            self.train(was_training)
        return ids[0] if unbatched else ids

    def _generate_full(self, ids: np.ndarray, max_new_tokens: int) -> np.ndarray:
        for _ in range(max_new_tokens):
            logits = self._run(ids, create_causal_mask(ids.shape[1])).data[:, -1]
            ids = np.concatenate([ids, logits.argmax(axis=-1)[:, None]], axis=1)
        return ids

    def _generate_cached(self, ids: np.ndarray, max_new_tokens: int) -> np.ndarray:
        batch, prompt_len = ids.shape
        cache = KVCache(batch, prompt_len + max_new_tokens, self.num_layers, self.num_heads,
                        self.embed_dim // self.num_heads)
        # The prompt in one pass (causal within itself); then each step runs only its newest token,
        # which may attend to every cached position, so it needs no mask.
        logits = self._run(ids, create_causal_mask(prompt_len), cache).data[:, -1]
        cache.advance(prompt_len)
        for step in range(max_new_tokens):
            newest = logits.argmax(axis=-1)[:, None]
            ids = np.concatenate([ids, newest], axis=1)
            if step + 1 < max_new_tokens:
                logits = self._run(newest, None, cache, offset=cache.seq_pos).data[:, -1]
                cache.advance()
        return ids


def _token_array(tokens: Any) -> np.ndarray:
    data = tokens.data if isinstance(tokens, Tensor) else np.asarray(tokens)
    return data.astype(np.int64)
