"""Module 17 (memoization) probes: drive a KVCache the way generation does (update every layer, then
advance) and copy what `get` returns at once: the course's `get` hands out views that a later `reset`
zeroes, which is allowed. The copies are read with the artefacts, all in one round trip."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, rng, values_later, values_snapshot


def keys_and_values(challenge: dict[str, Any], stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """K and V for every layer and position: (layers, B, H, S, Dh) each."""
    r = rng(challenge, stream)
    shape = (challenge["layers"], challenge["batch"], challenge["heads"], challenge["steps"], challenge["head_dim"])
    return float32(r.standard_normal(shape)), float32(r.standard_normal(shape))


def queries(challenge: dict[str, Any]) -> np.ndarray:
    r = rng(challenge, 7)
    return float32(r.standard_normal((challenge["batch"], challenge["heads"], challenge["steps"],
                                      challenge["head_dim"])))


def _cache(tt: Resolver, challenge: dict[str, Any], max_seq_len: int | None = None) -> Any:
    return tt.KVCache(challenge["batch"], max_seq_len or challenge["max_seq_len"], challenge["layers"],
                      challenge["heads"], challenge["head_dim"])


def _step(tt: Resolver, cache: Any, keys: np.ndarray, vals: np.ndarray, position: int) -> None:
    for layer in range(keys.shape[0]):
        cache.update(layer, tt.Tensor(keys[layer, :, :, position:position + 1]),
                     tt.Tensor(vals[layer, :, :, position:position + 1]))
    cache.advance()


def _get(cache: Any, layer: int) -> list[Any]:
    """[K, V] from get(layer), copied now."""
    pair = cache.get(layer)
    return [values_snapshot(pair[0]), values_snapshot(pair[1])]


def test_get_returns_filled_positions(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    keys, vals = keys_and_values(challenge)
    cache = _cache(tt, challenge)
    for position in range(challenge["steps"]):
        _step(tt, cache, keys, vals, position)
    return {"cached": _get(cache, 0)}


def test_layers_kept_apart(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    keys, vals = keys_and_values(challenge)
    cache = _cache(tt, challenge)
    for position in range(challenge["steps"]):
        _step(tt, cache, keys, vals, position)
    return {"cached": [_get(cache, layer) for layer in range(challenge["layers"])]}


def test_length_grows_with_advance(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    keys, vals = keys_and_values(challenge)
    cache = _cache(tt, challenge)
    lengths = []
    for position in range(challenge["steps"]):
        _step(tt, cache, keys, vals, position)
        lengths.append([values_later(cache.get(layer)[0]) for layer in range(challenge["layers"])])
    # Each K was taken right after its step (only its shape is kept), all read in one round trip.
    return {"shapes": [[list(k.shape) for k in per_layer] for per_layer in tt.materialize(lengths)]}


def test_update_writes_current_position(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    # Two updates before one advance: the second overwrites the first at the same position.
    first, _ = keys_and_values(challenge, 1)
    keys, vals = keys_and_values(challenge)
    cache = _cache(tt, challenge)
    for position in range(challenge["steps"]):
        for layer in range(challenge["layers"]):
            cache.update(layer, tt.Tensor(first[layer, :, :, position:position + 1]),
                         tt.Tensor(first[layer, :, :, position:position + 1]))
        _step(tt, cache, keys, vals, position)
    return {"cached": _get(cache, 0)}


def test_reset_starts_over(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    old, _ = keys_and_values(challenge, 1)
    keys, vals = keys_and_values(challenge)
    # Room for both runs, so a reset() that forgets the position shows as such, not as "cache full".
    cache = _cache(tt, challenge, max_seq_len=2 * challenge["steps"])
    for position in range(challenge["steps"]):
        _step(tt, cache, old, old, position)
    cache.reset()
    empty = [values_later(cache.get(layer)[0]) for layer in range(challenge["layers"])]
    for position in range(challenge["fresh_steps"]):
        _step(tt, cache, keys, vals, position)
    empty, cached = tt.materialize([empty, _get(cache, 0)])  # one round trip
    return {"empty_shapes": [list(k.shape) for k in empty], "cached": cached}


def test_fills_to_max_seq_len(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    keys, vals = keys_and_values(challenge)
    cache = _cache(tt, challenge, max_seq_len=challenge["steps"])
    for position in range(challenge["steps"]):
        _step(tt, cache, keys, vals, position)
    return {"cached": _get(cache, challenge["layers"] - 1)}


def test_incremental_attention_matches_full(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    # What one decoding step attends over: the cache right after each token is added.
    keys, vals = keys_and_values(challenge)
    cache = _cache(tt, challenge)
    per_step = []
    for position in range(challenge["steps"]):
        _step(tt, cache, keys, vals, position)
        per_step.append(_get(cache, 0))
    return {"per_step": per_step}
