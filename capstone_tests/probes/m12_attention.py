"""Module 12 (attention) probes: scaled_dot_product_attention and MultiHeadAttention on tiny inputs.

Masks are Tensors with 1 where attention is allowed and 0 where it is blocked (the course's convention),
of shape (B, S, S). MultiHeadAttention gets weights and biases written by the probe, so the check can
recompute its output in float64 from the returned parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._capstone_tour import USES, tour
from ._common import float32, grad_later, rng, trainable, values, values_later

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")


def qkv(challenge: dict[str, Any], scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = rng(challenge)
    shape = (challenge["batch"], *challenge.get("lead", []), challenge["seq"], challenge["dim"])
    q, k, v = (float32(r.standard_normal(shape) * scale) for _ in range(3))
    return q, k, v


def causal_mask(challenge: dict[str, Any]) -> np.ndarray:
    seq = challenge["seq"]
    return float32(np.broadcast_to(np.tril(np.ones((seq, seq))), (challenge["batch"], seq, seq)))


def padding_mask(challenge: dict[str, Any]) -> np.ndarray:
    """Key j of batch element b is real when j < lengths[b]; the rest is padding every query must ignore."""
    seq = challenge["seq"]
    keys = np.arange(seq)[None, None, :] < np.asarray(challenge["lengths"])[:, None, None]
    return float32(np.broadcast_to(keys, (len(challenge["lengths"]), seq, seq)))


def upstream(challenge: dict[str, Any], shape: tuple[int, ...]) -> np.ndarray:
    return float32(rng(challenge, 1).standard_normal(shape))


def mha_input(challenge: dict[str, Any], stream: int = 0) -> np.ndarray:
    shape = (challenge["batch"], challenge["seq"], challenge["heads"] * challenge["head_dim"])
    return float32(rng(challenge, 10 + stream).standard_normal(shape))


def _weighted_sum(tt: Resolver, t: Any, weights: np.ndarray) -> Any:
    n = weights.size
    return t.reshape(1, n).matmul(tt.Tensor(float32(weights.reshape(n, 1)))).sum()


def _mha(tt: Resolver, challenge: dict[str, Any]) -> tuple[Any, dict[str, np.ndarray]]:
    """A MultiHeadAttention whose 8 parameters hold random values the probe chose (non-zero biases)."""
    dim = challenge["heads"] * challenge["head_dim"]
    attention = tt.MultiHeadAttention(dim, challenge["heads"])
    r = rng(challenge, 2)
    written: dict[str, np.ndarray] = {}
    for name in PROJECTIONS:
        projection = getattr(attention, name)
        projection.weight.data = float32(r.standard_normal((dim, dim)) / np.sqrt(dim))
        projection.bias.data = float32(r.standard_normal(dim) * 0.3)
        written[f"{name}.weight"] = values_later(projection.weight)
        written[f"{name}.bias"] = values_later(projection.bias)
    return attention, written


def test_sdpa_matches_float64(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    q, k, v = qkv(challenge)
    out, weights = tt.scaled_dot_product_attention(tt.Tensor(q), tt.Tensor(k), tt.Tensor(v))
    return {"out": values_later(out), "weights": values_later(weights)}


def test_sdpa_weights_rows_sum_to_one(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    q, k, v = qkv(challenge, scale=challenge["scale"])
    _, weights = tt.scaled_dot_product_attention(tt.Tensor(q), tt.Tensor(k), tt.Tensor(v))
    return {"weights": values_later(weights)}


def test_sdpa_causal_mask(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    q, k, v = qkv(challenge)
    out, weights = tt.scaled_dot_product_attention(tt.Tensor(q), tt.Tensor(k), tt.Tensor(v),
                                                   tt.Tensor(causal_mask(challenge)))
    return {"out": values_later(out), "weights": values_later(weights)}


def test_sdpa_padding_mask(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    q, k, v = qkv(challenge)
    out, weights = tt.scaled_dot_product_attention(tt.Tensor(q), tt.Tensor(k), tt.Tensor(v),
                                                   tt.Tensor(padding_mask(challenge)))
    return {"out": values_later(out), "weights": values_later(weights)}


def test_sdpa_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    q, k, v = (tt.Tensor(a, requires_grad=True) for a in qkv(challenge))
    out, _ = tt.scaled_dot_product_attention(q, k, v)
    _weighted_sum(tt, out, upstream(challenge, values(out).shape)).backward()
    return {"q_grad": grad_later(q), "k_grad": grad_later(k), "v_grad": grad_later(v)}


def test_mha_output_shape(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    dim = challenge["heads"] * challenge["head_dim"]
    attention = tt.MultiHeadAttention(dim, challenge["heads"])
    return {"shape": list(values(attention(tt.Tensor(mha_input(challenge)))).shape)}


def test_mha_has_eight_parameters(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    dim = challenge["heads"] * challenge["head_dim"]
    attention = tt.MultiHeadAttention(dim, challenge["heads"])
    taken = tt.materialize([values_later(p) for p in attention.parameters()])
    return {"shapes": [list(v.shape) for v in taken]}


def test_mha_all_parameters_get_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    attention, _ = _mha(tt, challenge)
    params = trainable(attention.parameters())
    out = attention(tt.Tensor(mha_input(challenge)))
    _weighted_sum(tt, out, upstream(challenge, values(out).shape)).backward()
    named = {f"{name}.{part}": grad_later(getattr(getattr(attention, name), part))
             for name in PROJECTIONS for part in ("weight", "bias")}
    return {"parameter_grads": [grad_later(p) for p in params], "named": named,
            "tour": tour(tt, challenge, USES["test_mha_all_parameters_get_gradients"])}


def test_mha_matches_float64(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    attention, written = _mha(tt, challenge)
    return {"params": written, "out": values_later(attention(tt.Tensor(mha_input(challenge))))}


def test_mha_causal_mask(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    attention, written = _mha(tt, challenge)
    x = mha_input(challenge)
    changed = x.copy()
    changed[:, challenge["cut"]:] = mha_input(challenge, stream=1)[:, challenge["cut"]:]
    mask = tt.Tensor(causal_mask(challenge))
    return {"params": written, "out": values_later(attention(tt.Tensor(x), mask)),
            "out_changed": values_later(attention(tt.Tensor(changed), mask))}


def test_mha_permutation_equivariant(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    attention, _ = _mha(tt, challenge)
    x = mha_input(challenge)
    return {"out": values_later(attention(tt.Tensor(x))),
            "out_permuted": values_later(attention(tt.Tensor(x[:, challenge["perm"]])))}
