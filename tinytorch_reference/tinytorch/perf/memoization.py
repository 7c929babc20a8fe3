"""Module 17: memoization, the key/value cache of autoregressive generation.

Generating token t+1 needs the keys and values of tokens 0..t in every layer; recomputing them makes each
step cost the whole prefix. The cache keeps them in arrays preallocated to `max_seq_len`, so a step only
computes the newest position and writes it in place.

Protocol (the course's): for each new position, `update(layer, k, v)` for every layer, then `advance()`
once. `get(layer)` returns the positions *filled* for that layer: everything before `seq_pos`, plus what
`update` wrote at `seq_pos` before the `advance()` (the course's edition returns only `[:seq_pos]`; the two
agree whenever `get` follows `advance`). Inference only: cached values carry no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import FLOAT, Tensor

__all__ = ["KVCache"]


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class KVCache:
    def __init__(self, batch_size: int, max_seq_len: int, num_layers: int, num_heads: int,
                 head_dim: int) -> None:
        self.batch_size = batch_size
        self.max_seq_len = max_seq_len
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.head_dim = head_dim
        shape = (num_layers, batch_size, num_heads, max_seq_len, head_dim)
        self.keys = np.zeros(shape, dtype=FLOAT)
        self.values = np.zeros(shape, dtype=FLOAT)
        self.seq_pos = 0
        # How far each layer has been written; differs from seq_pos between update() and advance().
        self._filled = [0] * num_layers

    def _check_layer(self, layer_idx: int) -> None:
        if not 0 <= layer_idx < self.num_layers:
            raise ValueError(f"layer_idx {layer_idx} out of range [0, {self.num_layers})")

    def update(self, layer_idx: int, key: Any, value: Any) -> None:
        """Write key/value of shape (B, H, T, Dh) at positions seq_pos .. seq_pos+T-1 (T is usually 1)."""
        self._check_layer(layer_idx)
        key, value = _array(key), _array(value)
        expected = (self.batch_size, self.num_heads, self.head_dim)
        if key.ndim != 4 or key.shape != value.shape or (*key.shape[:2], key.shape[3]) != expected:
            raise ValueError(f"key/value must be (B={expected[0]}, H={expected[1]}, T, Dh={expected[2]}) "
                             f"and equal; got {key.shape} and {value.shape}")
        end = self.seq_pos + key.shape[2]
        if end > self.max_seq_len:
            raise ValueError(f"cache full: position {end - 1} >= max_seq_len {self.max_seq_len}")
        self.keys[layer_idx, :, :, self.seq_pos:end] = key
        self.values[layer_idx, :, :, self.seq_pos:end] = value
        self._filled[layer_idx] = end

    def get(self, layer_idx: int) -> tuple[Tensor, Tensor]:
        """(K, V), each (B, H, filled, Dh): copies, so a later reset() cannot change them."""
        self._check_layer(layer_idx)
        filled = max(self._filled[layer_idx], self.seq_pos)
        return (Tensor(self.keys[layer_idx, :, :, :filled].copy()),
                Tensor(self.values[layer_idx, :, :, :filled].copy()))

    def advance(self, steps: int = 1) -> None:
        """Move past the position(s) just written, once every layer has been updated."""
        if self.seq_pos + steps > self.max_seq_len:
            raise ValueError(f"cannot advance past max_seq_len {self.max_seq_len}")
        self.seq_pos += steps
        self._filled = [max(f, self.seq_pos) for f in self._filled]

    def reset(self) -> None:
        self.seq_pos = 0
        self._filled = [0] * self.num_layers
        self.keys.fill(0.0)
        self.values.fill(0.0)

    def memory_bytes(self) -> int:
        return int(self.keys.nbytes + self.values.nbytes)
