"""Module 18: acceleration.

- `vectorized_matmul`: hand the whole product to BLAS (through Tensor.matmul, so it stays differentiable).
- `tiled_matmul`: the same product computed block by block, as a cache-blocking kernel would; Python
  loops run over tiles only, each tile product is one BLAS call. It teaches the access pattern; numpy's
  own matmul already tiles internally, so it is not faster here. Inference only (no graph).
- `fused_gelu`: GELU in one numpy expression instead of a chain of Tensor ops, each of which would
  allocate an intermediate array and a graph node; its backward is one expression too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.tensor import FLOAT, Tensor

__all__ = ["fused_gelu", "tiled_matmul", "vectorized_matmul"]

_GELU_C = FLOAT(math.sqrt(2.0 / math.pi))
_GELU_A = FLOAT(0.044715)


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def vectorized_matmul(a: Any, b: Any) -> Tensor:
    return _tensor(a).matmul(_tensor(b))


def tiled_matmul(a: Any, b: Any, tile_size: int = 64) -> Tensor:
    """a @ b over (..., M, K) x (..., K, N), accumulated tile by tile in float32."""
    x, y = _tensor(a).data, _tensor(b).data
    if x.ndim < 2 or y.ndim < 2:
        return vectorized_matmul(a, b)
    (m, k), (k2, n) = x.shape[-2:], y.shape[-2:]
    if k != k2:
        raise ValueError(f"inner dimensions differ: {x.shape} @ {y.shape}")
    if tile_size < 1:
        raise ValueError(f"tile_size must be >= 1, got {tile_size}")
    batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    out = np.zeros((*batch, m, n), dtype=FLOAT)
    t = tile_size
    for i in range(0, m, t):
        for j in range(0, n, t):
            block = out[..., i:i + t, j:j + t]  # a view: accumulate in place
            for p in range(0, k, t):
                block += x[..., i:i + t, p:p + t] @ y[..., p:p + t, j:j + t]
    return Tensor(out)


def fused_gelu(x: Any) -> Tensor:
    """GELU (tanh approximation, the course's formula), forward and backward each one expression."""
    x = _tensor(x)
    a = x.data
    inner = np.tanh(_GELU_C * (a + _GELU_A * a * a * a))
    out = 0.5 * a * (1.0 + inner)

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        return (g * (0.5 * (1.0 + inner) +
                     0.5 * a * (1.0 - inner * inner) * _GELU_C * (1.0 + 3.0 * _GELU_A * a * a)),)

    return Tensor.from_op(out, (x,), backward)
