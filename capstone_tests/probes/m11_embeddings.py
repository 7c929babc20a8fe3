"""Module 11 (embeddings) probes: Embedding lookups and gradients, learned PositionalEncoding.

Gradients come from a weighted sum with fixed random weights `upstream(...)` (reshape + matmul only),
so each gradient the check expects is a closed form of those weights and the token ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_of, rng, trainable, values


def token_ids(challenge: dict[str, Any], shape: tuple[int, ...]) -> np.ndarray:
    """Random ids in [0, vocab) in which id 0 and the last id occur at least twice (to test accumulation)."""
    ids = rng(challenge, 3).integers(0, challenge["vocab"], shape)
    flat = ids.reshape(-1)
    flat[:2] = 0
    flat[-2:] = challenge["vocab"] - 1
    return ids


def upstream(challenge: dict[str, Any], shape: tuple[int, ...]) -> np.ndarray:
    return float32(rng(challenge, 1).standard_normal(shape))


def table(challenge: dict[str, Any]) -> np.ndarray:
    """The position table the probe writes into PositionalEncoding (so added values are known)."""
    return float32(rng(challenge, 2).standard_normal((challenge["max_len"], challenge["dim"])))


def inputs(challenge: dict[str, Any]) -> np.ndarray:
    return float32(rng(challenge).standard_normal((challenge["batch"], challenge["seq"], challenge["dim"])))


def _weighted_sum(tt: Resolver, t: Any, weights: np.ndarray) -> Any:
    n = weights.size
    return t.reshape(1, n).matmul(tt.Tensor(float32(weights.reshape(n, 1)))).sum()


def _position_table(encoding: Any, challenge: dict[str, Any]) -> Any:
    """The parameter holding one row per position, or None (the check says what was found instead)."""
    for param in encoding.parameters():
        if int(np.prod(values(param).shape)) == challenge["max_len"] * challenge["dim"]:
            return param
    return None


def _encoding(tt: Resolver, challenge: dict[str, Any]) -> tuple[Any, Any]:
    encoding = tt.PositionalEncoding(challenge["max_len"], challenge["dim"])
    param = _position_table(encoding, challenge)
    if param is not None:
        param.data = table(challenge).reshape(values(param).shape)
    return encoding, param


def test_embedding_lookup(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    embedding = tt.Embedding(challenge["vocab"], challenge["dim"])
    ids = token_ids(challenge, (challenge["batch"], challenge["seq"]))
    return {"weight": values(embedding.weight), "out": values(embedding(tt.Tensor(ids)))}


def test_embedding_shapes(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    embedding = tt.Embedding(challenge["vocab"], challenge["dim"])
    one = token_ids(challenge, (challenge["seq"],))
    two = token_ids(challenge, (challenge["batch"], challenge["seq"]))
    return {
        "weight_shape": list(values(embedding.weight).shape),
        "parameter_shapes": [list(values(p).shape) for p in embedding.parameters()],
        "one_d": list(values(embedding(tt.Tensor(one))).shape),
        "two_d": list(values(embedding(tt.Tensor(two))).shape),
    }


def test_embedding_gradient_accumulates(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    embedding = tt.Embedding(challenge["vocab"], challenge["dim"])
    trainable(embedding.parameters())
    ids = token_ids(challenge, (challenge["batch"], challenge["seq"]))
    _weighted_sum(tt, embedding(tt.Tensor(ids)),
                  upstream(challenge, (challenge["batch"], challenge["seq"], challenge["dim"]))).backward()
    return {"weight_grad": grad_of(embedding.weight)}


def test_positional_encoding_is_added(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    encoding, param = _encoding(tt, challenge)
    x = inputs(challenge)
    shorter = float32(np.zeros((1, challenge["seq"] - 1, challenge["dim"])))
    return {
        "parameter_shapes": [list(values(p).shape) for p in encoding.parameters()],
        "found_table": param is not None,
        "out": values(encoding(tt.Tensor(x))),
        "shorter": values(encoding(tt.Tensor(shorter))),
    }


def test_positional_encoding_is_learned(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    encoding, param = _encoding(tt, challenge)
    trainable(encoding.parameters())
    x = tt.Tensor(inputs(challenge), requires_grad=True)
    _weighted_sum(tt, encoding(x), upstream(challenge, values(x).shape)).backward()
    return {
        "parameter_shapes": [list(values(p).shape) for p in encoding.parameters()],
        "table_grad": None if param is None else grad_of(param),
        "x_grad": grad_of(x),
    }


def test_embedding_gradient_through_positional_encoding(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    embedding = tt.Embedding(challenge["vocab"], challenge["dim"])
    encoding = tt.PositionalEncoding(challenge["max_len"], challenge["dim"])
    trainable(embedding.parameters() + encoding.parameters())
    ids = token_ids(challenge, (challenge["batch"], challenge["seq"]))
    out = encoding(embedding(tt.Tensor(ids)))
    _weighted_sum(tt, out, upstream(challenge, (challenge["batch"], challenge["seq"], challenge["dim"]))).backward()
    return {"weight_grad": grad_of(embedding.weight)}
