"""Module 18 (acceleration) probes: matrix products and GELU on inputs drawn from the challenge."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, rng, values_later


def matrices(challenge: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    m, k, n = challenge["m"], challenge["k"], challenge["n"]
    r = rng(challenge)
    return float32(r.standard_normal((m, k))), float32(r.standard_normal((k, n)))


def gelu_inputs(challenge: dict[str, Any]) -> np.ndarray:
    r = rng(challenge)
    return float32(r.uniform(challenge["low"], challenge["high"], size=tuple(challenge["shape"])))


def _tiled(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    a, b = matrices(challenge)
    return {"product": values_later(tt.tiled_matmul(tt.Tensor(a), tt.Tensor(b), challenge["tile"]))}


def test_vectorized_matmul(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    a, b = matrices(challenge)
    return {"product": values_later(tt.vectorized_matmul(tt.Tensor(a), tt.Tensor(b)))}


def test_tiled_matmul_uneven_tiles(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return _tiled(tt, challenge)


def test_tiled_matmul_exact_tiles(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return _tiled(tt, challenge)


def test_tiled_matmul_tile_larger_than_matrix(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return _tiled(tt, challenge)


def test_tiled_matmul_vector_shapes(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return _tiled(tt, challenge)


def test_fused_gelu_values(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"output": values_later(tt.fused_gelu(tt.Tensor(gelu_inputs(challenge))))}


def test_fused_gelu_extremes(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"output": values_later(tt.fused_gelu(tt.Tensor(gelu_inputs(challenge))))}
