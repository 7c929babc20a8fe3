"""Module 17 (memoization) checks: what a KVCache gives back, against the keys and values the challenge
wrote, and attention over the cache against full causal attention, both recomputed here in float64.

Only the protocol every edition shares is exercised: `update(layer, k, v)` for each layer, then one
`advance()`, then `get(layer)`. What `get` returns between an `update` and its `advance` differs between
editions (the course's excludes the position just written) and is never looked at.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..probes import m17_memoization as probes
from ..registry import check
from . import expect


def _challenge(r: np.random.Generator) -> dict[str, Any]:
    steps = int(r.integers(3, 7))
    return {"batch": int(r.integers(1, 3)), "heads": int(r.integers(1, 4)), "head_dim": int(r.integers(2, 6)),
            "layers": int(r.integers(2, 4)), "steps": steps, "max_seq_len": steps + int(r.integers(1, 6)),
            "fresh_steps": int(r.integers(1, steps + 1))}


def _written(challenge: dict[str, Any], keys: np.ndarray, vals: np.ndarray, **more: Any) -> dict[str, Any]:
    """What the probe wrote into one layer's cache: one position per update()/advance() round."""
    return {"update()/advance() rounds": keys.shape[2], "max_seq_len": challenge["max_seq_len"],
            "k written, position t at [:, :, t]": keys, "v written": vals, **more}


def _shape(challenge: dict[str, Any], length: int) -> tuple[int, int, int, int]:
    return challenge["batch"], challenge["heads"], length, challenge["head_dim"]


def _expect_cached(pair: Any, keys: np.ndarray, vals: np.ndarray, what: str, given: dict[str, Any]) -> None:
    """`pair` is [K, V] from get(); keys/vals are what should be in it, (B, H, T, Dh); `given`: what was written."""
    for got_raw, expected, name in ((pair[0], keys, "K"), (pair[1], vals, "V")):
        got = expect.array({"x": got_raw}, "x", what=f"{name} from get() {what}", module=17)
        expect.that(got.shape == expected.shape,
                    f"get() {what} returned {name} of shape {got.shape}, expected {expected.shape}: (batch, heads, "
                    f"positions filled so far, head_dim), the filled positions only", module=17)
        expect.close(got, expected, f"{name} from get() {what} (it must hold exactly what update() wrote, in "
                     f"position order)", module=17, rtol=1e-6, atol=1e-6, given=given)


@check(module=17, challenge=_challenge)
def test_get_returns_filled_positions(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    keys, vals = probes.keys_and_values(challenge)
    _expect_cached(artefacts["cached"], keys[0], vals[0], f"after {challenge['steps']} tokens",
                   _written(challenge, keys[0], vals[0]))


@check(module=17, challenge=_challenge)
def test_layers_kept_apart(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    keys, vals = probes.keys_and_values(challenge)
    cached = artefacts["cached"]
    expect.that(len(cached) == challenge["layers"], "the probe did not get every layer's cache back", module=17)
    for layer, pair in enumerate(cached):
        _expect_cached(pair, keys[layer], vals[layer], f"for layer {layer} of {challenge['layers']}",
                       _written(challenge, keys[layer], vals[layer], layer=layer))


@check(module=17, challenge=_challenge)
def test_length_grows_with_advance(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    shapes = artefacts["shapes"]
    expect.that(len(shapes) == challenge["steps"], "the probe did not record every step", module=17)
    for step, per_layer in enumerate(shapes, start=1):
        for layer, shape in enumerate(per_layer):
            expected = _shape(challenge, step)
            expect.equal(list(shape), list(expected),
                         f"after {step} update()/advance() rounds, get({layer}) returned K of shape {tuple(shape)}, "
                         f"expected {expected}: one position per advance(), and only the filled ones", module=17,
                         given={"update()/advance() rounds": step, "layer": layer,
                                "max_seq_len": challenge["max_seq_len"]})


@check(module=17, challenge=_challenge)
def test_update_writes_current_position(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    keys, vals = probes.keys_and_values(challenge)
    _expect_cached(artefacts["cached"], keys[0], vals[0],
                   "after two update()s per advance() (update writes at the current position; only advance() "
                   "moves it, so the second update overwrites the first)",
                   _written(challenge, keys[0], vals[0], **{"update()s per round": "2, the second one's kept"}))


@check(module=17, challenge=_challenge)
def test_reset_starts_over(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    expected_empty = _shape(challenge, 0)
    for layer, shape in enumerate(artefacts["empty_shapes"]):
        expect.equal(list(shape), list(expected_empty),
                     f"right after reset(), get({layer}) returned K of shape {tuple(shape)}, expected "
                     f"{expected_empty}: reset() must empty the cache (position back to 0)", module=17,
                     given={"update()/advance() rounds before reset()": challenge["steps"], "layer": layer})
    keys, vals = probes.keys_and_values(challenge)
    fresh = challenge["fresh_steps"]
    _expect_cached(artefacts["cached"], keys[0, :, :, :fresh], vals[0, :, :, :fresh],
                   f"after reset() and {fresh} new tokens",
                   {"rounds before reset()": challenge["steps"]} | _written(challenge, keys[0, :, :, :fresh],
                                                                            vals[0, :, :, :fresh]))


@check(module=17, challenge=_challenge)
def test_fills_to_max_seq_len(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    keys, vals = probes.keys_and_values(challenge)
    last = challenge["layers"] - 1
    _expect_cached(artefacts["cached"], keys[last], vals[last],
                   f"for the last layer of a cache filled to its max_seq_len of {challenge['steps']}",
                   _written(challenge, keys[last], vals[last], layer=last))


def _attend(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """softmax(q k^T / sqrt(d)) v over the last two axes, in float64."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    return (weights / weights.sum(axis=-1, keepdims=True)) @ v


@check(module=17, challenge=_challenge)
def test_incremental_attention_matches_full(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    keys, vals = (a[0].astype(np.float64) for a in probes.keys_and_values(challenge))
    q = probes.queries(challenge).astype(np.float64)
    steps = challenge["steps"]
    causal = np.where(np.tril(np.ones((steps, steps))) > 0, 0.0, -np.inf)
    scores = q @ np.swapaxes(keys, -1, -2) / np.sqrt(q.shape[-1]) + causal
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    full = (weights / weights.sum(axis=-1, keepdims=True)) @ vals
    per_step = artefacts["per_step"]
    expect.that(len(per_step) == steps, "the probe did not record every step", module=17)
    for t, pair in enumerate(per_step):
        k = expect.array({"k": pair[0]}, "k", what=f"K from get() at step {t + 1}", module=17)
        v = expect.array({"v": pair[1]}, "v", what=f"V from get() at step {t + 1}", module=17)
        expect.that(k.shape == _shape(challenge, t + 1) and v.shape == k.shape,
                    f"at step {t + 1} get() returned K {k.shape} and V {v.shape}, expected "
                    f"{_shape(challenge, t + 1)} each", module=17)
        incremental = _attend(q[:, :, t:t + 1], k, v)
        expect.close(incremental[:, :, 0], full[:, :, t],
                     f"attention of token {t + 1} over the cached K/V (vs full causal attention)",
                     module=17, rtol=1e-5, atol=1e-5,
                     given={"token": t + 1, "q": q[:, :, t], "K written": keys, "V written": vals})
