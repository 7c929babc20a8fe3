"""Module 13 (transformers) probes: LayerNorm, create_causal_mask, MLP, TransformerBlock and GPT.

Models are put in eval mode when they have one (dropout off), so two forward passes are comparable.
Training uses a small Adam written here in numpy (not the student's optimizer) and the student's
CrossEntropyLoss, so a failure points at the transformer rather than at module 06.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_of, rng, trainable, values


def inputs(challenge: dict[str, Any], stream: int = 0) -> np.ndarray:
    shape = (challenge["batch"], challenge["seq"], challenge["heads"] * challenge["head_dim"])
    return float32(rng(challenge, stream).standard_normal(shape))


def layer_norm_input(challenge: dict[str, Any]) -> np.ndarray:
    """Rows with their own offset and spread, so normalising is visible."""
    r = rng(challenge)
    shape = (challenge["batch"], challenge["seq"], challenge["dim"])
    return float32(r.standard_normal(shape) * r.uniform(0.5, 3.0, (*shape[:2], 1))
                   + r.uniform(-3.0, 3.0, (*shape[:2], 1)))


def affine(challenge: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    r = rng(challenge, 1)
    return float32(r.uniform(0.5, 2.0, challenge["dim"])), float32(r.standard_normal(challenge["dim"]))


def tokens(challenge: dict[str, Any]) -> np.ndarray:
    return rng(challenge, 2).integers(0, challenge["vocab"], (challenge["batch"], challenge["seq"]))


def training_sequences(challenge: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The repeated pattern at two phases: inputs (2, S) and next-token targets (2, S)."""
    pattern, seq = challenge["pattern"], challenge["seq"]
    rows = np.array([[pattern[(i + phase) % len(pattern)] for i in range(seq + 1)] for phase in (0, 1)])
    return rows[:, :-1], rows[:, 1:]


def _eval(model: Any) -> Any:
    switch = getattr(model, "eval", None)
    if callable(switch):
        switch()
    return model


def _seed(challenge: dict[str, Any]) -> None:
    # Student layers initialise from numpy's global generator: seeding it makes a run repeatable.
    np.random.seed(challenge["seed"] % 2**32)


def _weighted_sum(tt: Resolver, t: Any, weights: np.ndarray) -> Any:
    n = weights.size
    return t.reshape(1, n).matmul(tt.Tensor(float32(weights.reshape(n, 1)))).sum()


def _scale_and_shift(norm: Any) -> tuple[Any, Any]:
    """LayerNorm's (gamma, beta), by name where an edition names them, else in parameters() order."""
    scale = next((getattr(norm, n) for n in ("gamma", "weight") if getattr(norm, n, None) is not None), None)
    shift = next((getattr(norm, n) for n in ("beta", "bias") if getattr(norm, n, None) is not None), None)
    if scale is None or shift is None:
        scale, shift = list(norm.parameters())[:2]
    return scale, shift


def _block(tt: Resolver, challenge: dict[str, Any]) -> Any:
    _seed(challenge)
    dim = challenge["heads"] * challenge["head_dim"]
    return _eval(tt.TransformerBlock(dim, challenge["heads"]))


def _gpt(tt: Resolver, challenge: dict[str, Any]) -> Any:
    _seed(challenge)
    return _eval(tt.GPT(challenge["vocab"], challenge["heads"] * challenge["head_dim"], challenge["layers"],
                        challenge["heads"], max_seq_len=challenge["max_len"]))


def test_layernorm_normalises(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    norm = tt.LayerNorm(challenge["dim"])
    return {"out": values(norm(tt.Tensor(layer_norm_input(challenge))))}


def test_layernorm_matches_float64(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    norm = tt.LayerNorm(challenge["dim"])
    scale, shift = _scale_and_shift(norm)
    gamma, beta = affine(challenge)
    scale.data, shift.data = gamma.copy(), beta.copy()
    return {"out": values(norm(tt.Tensor(layer_norm_input(challenge)))),
            "parameter_shapes": [list(values(p).shape) for p in norm.parameters()]}


def test_create_causal_mask(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"mask": values(tt.create_causal_mask(challenge["seq"]))}


def test_mlp_shape_and_parameters(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    dim = challenge["heads"] * challenge["head_dim"]
    mlp = tt.MLP(dim)
    return {"shape": list(values(mlp(tt.Tensor(inputs(challenge)))).shape),
            "parameter_shapes": [list(values(p).shape) for p in mlp.parameters()]}


def test_block_shape(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"shape": list(values(_block(tt, challenge)(tt.Tensor(inputs(challenge)))).shape)}


def test_block_residual(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    block = _block(tt, challenge)
    for param in block.parameters():
        param.data = float32(np.zeros(values(param).shape))
    return {"out": values(block(tt.Tensor(inputs(challenge))))}


def test_block_is_pre_norm(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    block = _block(tt, challenge)
    hidden = 4 * challenge["heads"] * challenge["head_dim"]
    # Silence the MLP (every parameter with the hidden size in its shape): what remains is x + attn(ln1(x))
    # plus the MLP's output bias, a constant.
    silenced = 0
    for param in block.parameters():
        if hidden in values(param).shape:
            param.data = float32(np.zeros(values(param).shape))
            silenced += 1
    x = inputs(challenge)
    return {"silenced": silenced, "out": values(block(tt.Tensor(x))),
            "out_scaled": values(block(tt.Tensor(float32(x * challenge["factor"]))))}


def test_block_causal_mask(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    block = _block(tt, challenge)
    seq, cut = challenge["seq"], challenge["cut"]
    mask = tt.Tensor(float32(np.tril(np.ones((seq, seq)))[None]))
    x = inputs(challenge)
    changed = x.copy()
    changed[:, cut:] = inputs(challenge, stream=1)[:, cut:]
    return {"out": values(block(tt.Tensor(x), mask)), "out_changed": values(block(tt.Tensor(changed), mask))}


def test_gpt_logits_shape(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"logits": values(_gpt(tt, challenge)(tt.Tensor(tokens(challenge))))}


def test_gpt_is_causal(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model = _gpt(tt, challenge)
    ids = tokens(challenge)
    changed = ids.copy()
    changed[:, challenge["cut"]:] = (ids[:, challenge["cut"]:] + 1) % challenge["vocab"]
    return {"logits": values(model(tt.Tensor(ids))), "logits_changed": values(model(tt.Tensor(changed)))}


def test_gpt_gradients_reach_all_parameters(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model = _gpt(tt, challenge)
    params = trainable(model.parameters())
    ids = tokens(challenge)
    logits = model(tt.Tensor(ids))
    targets = np.roll(ids, -1, axis=1).reshape(-1)
    tt.CrossEntropyLoss()(logits.reshape(-1, challenge["vocab"]), tt.Tensor(targets)).backward()
    return {"shapes": [list(values(p).shape) for p in params], "grads": [grad_of(p) for p in params]}


def test_gpt_overfits_repeated_sequence(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model = _gpt(tt, challenge)
    params = trainable(model.parameters())
    x, y = training_sequences(challenge)
    loss_fn = tt.CrossEntropyLoss()
    moments = [(np.zeros(values(p).shape), np.zeros(values(p).shape)) for p in params]
    losses = []
    for step in range(1, challenge["steps"] + 1):
        for p in params:
            p.grad = None
        logits = model(tt.Tensor(x))
        loss = loss_fn(logits.reshape(-1, challenge["vocab"]), tt.Tensor(y.reshape(-1)))
        loss.backward()
        losses.append(float(values(loss).reshape(-1)[0]))
        for index, p in enumerate(params):
            grad = grad_of(p)
            if grad is None:
                continue
            m, v = moments[index]
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            moments[index] = (m, v)
            update = challenge["lr"] * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
            p.data = float32(values(p) - update)
    return {"losses": losses, "logits": values(model(tt.Tensor(x)))}
