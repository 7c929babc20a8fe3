"""Module 11 (embeddings) probes: Embedding lookups and gradients, learned PositionalEncoding.

Gradients come from a weighted sum with fixed random weights `upstream(...)` (reshape + matmul only),
so each gradient the check expects is a closed form of those weights and the token ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_later, rng, trainable, values, values_later


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


def _items(sequence: Any) -> list[Any]:
    """list(sequence); for a remote one in one round trip (list() would first ask its length in another)."""
    return [item for item in sequence]


def _shapes(tt: Resolver, tensors: list[Any]) -> list[list[int]]:
    """The shape of each tensor's values now (proxies when remote: read in one round trip)."""
    return _shapes_of(tt, [values_later(t) for t in tensors])


def _shapes_of(tt: Resolver, taken: list[Any]) -> list[list[int]]:
    """The shapes of values taken earlier with values_later, read in one round trip."""
    return [list(v.shape) for v in tt.materialize(taken)]


def _position_table(tt: Resolver, encoding: Any, challenge: dict[str, Any]) -> tuple[Any, list[int] | None]:
    """The parameter holding one row per position and its shape, or (None, None) (the check says what was found
    instead)."""
    params = _items(encoding.parameters())
    for param, shape in zip(params, _shapes(tt, params), strict=True):
        if int(np.prod(shape)) == challenge["max_len"] * challenge["dim"]:
            return param, shape
    return None, None


def _encoding(tt: Resolver, challenge: dict[str, Any]) -> tuple[Any, Any]:
    encoding = tt.PositionalEncoding(challenge["max_len"], challenge["dim"])
    param, shape = _position_table(tt, encoding, challenge)
    if param is not None:
        param.data = table(challenge).reshape(shape)
    return encoding, param


def test_embedding_lookup(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    embedding = tt.Embedding(challenge["vocab"], challenge["dim"])
    ids = token_ids(challenge, (challenge["batch"], challenge["seq"]))
    return {"weight": values_later(embedding.weight), "out": values_later(embedding(tt.Tensor(ids)))}


def test_embedding_shapes(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    embedding = tt.Embedding(challenge["vocab"], challenge["dim"])
    one = token_ids(challenge, (challenge["seq"],))
    two = token_ids(challenge, (challenge["batch"], challenge["seq"]))
    weight = values_later(embedding.weight)
    parameters = [values_later(p) for p in embedding.parameters()]
    one_d, two_d = values_later(embedding(tt.Tensor(one))), values_later(embedding(tt.Tensor(two)))
    weight_shape, one_shape, two_shape, *parameter_shapes = _shapes_of(tt, [weight, one_d, two_d, *parameters])
    return {"weight_shape": weight_shape, "parameter_shapes": parameter_shapes, "one_d": one_shape,
            "two_d": two_shape}


def test_embedding_gradient_accumulates(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    embedding = tt.Embedding(challenge["vocab"], challenge["dim"])
    trainable(embedding.parameters())
    ids = token_ids(challenge, (challenge["batch"], challenge["seq"]))
    _weighted_sum(tt, embedding(tt.Tensor(ids)),
                  upstream(challenge, (challenge["batch"], challenge["seq"], challenge["dim"]))).backward()
    return {"weight_grad": grad_later(embedding.weight)}


def test_positional_encoding_is_added(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    encoding, param = _encoding(tt, challenge)
    x = inputs(challenge)
    shorter = float32(np.zeros((1, challenge["seq"] - 1, challenge["dim"])))
    parameters = [values_later(p) for p in encoding.parameters()]
    out, out_shorter = encoding(tt.Tensor(x)), encoding(tt.Tensor(shorter))
    return {
        "parameter_shapes": _shapes_of(tt, parameters),
        "found_table": param is not None,
        "out": values_later(out),
        "shorter": values_later(out_shorter),
    }


def test_positional_encoding_is_learned(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    encoding, param = _encoding(tt, challenge)
    trainable(encoding.parameters())
    x = tt.Tensor(inputs(challenge), requires_grad=True)
    _weighted_sum(tt, encoding(x), upstream(challenge, values(x).shape)).backward()
    return {
        "parameter_shapes": _shapes(tt, _items(encoding.parameters())),
        "table_grad": None if param is None else grad_later(param),
        "x_grad": grad_later(x),
    }


def test_embedding_gradient_through_positional_encoding(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    embedding = tt.Embedding(challenge["vocab"], challenge["dim"])
    encoding = tt.PositionalEncoding(challenge["max_len"], challenge["dim"])
    trainable(embedding.parameters() + encoding.parameters())
    ids = token_ids(challenge, (challenge["batch"], challenge["seq"]))
    out = encoding(embedding(tt.Tensor(ids)))
    _weighted_sum(tt, out, upstream(challenge, (challenge["batch"], challenge["seq"], challenge["dim"]))).backward()
    return {"weight_grad": grad_later(embedding.weight)}
