"""Module 13 (transformers) probes: LayerNorm, create_causal_mask, MLP, TransformerBlock and GPT.

Models are put in eval mode when they have one (dropout off), so two forward passes are comparable.
Training uses a small Adam written here in numpy (not the student's optimizer) and the student's
CrossEntropyLoss, so a failure points at the transformer rather than at module 06.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._capstone_tour import USES, tour
from ._common import float32, grad_later, is_callable, rng, trainable, values, values_later, view_later


def inputs(challenge: dict[str, Any], stream: int = 0) -> np.ndarray:
    shape = (challenge["batch"], challenge["seq"], challenge["heads"] * challenge["head_dim"])
    return float32(rng(challenge, stream).standard_normal(shape))


def layer_norm_input(challenge: dict[str, Any]) -> np.ndarray:
    """Rows with their own offset and spread, so normalising is visible."""
    r = rng(challenge)
    shape = (challenge["batch"], challenge["seq"], challenge["dim"])
    # Each row standardised before its spread is set: a row of 4 normal draws can have a variance near 0, where
    # the editions' choice of eps (1e-5, 1e-6, ...) would move the output's variance visibly away from 1.
    z = r.standard_normal(shape)
    z = (z - z.mean(axis=-1, keepdims=True)) / z.std(axis=-1, keepdims=True)
    return float32(z * r.uniform(0.5, 3.0, (*shape[:2], 1)) + r.uniform(-3.0, 3.0, (*shape[:2], 1)))


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
    if is_callable(view_later("attr_or_none", model, "eval")):
        model.eval()
    return model


def _seed(tt: Resolver, challenge: dict[str, Any]) -> None:
    # Student layers initialise from numpy's global generator: seeding it makes a run repeatable.
    tt.seed_numpy(challenge["numpy_seed"])


def _weighted_sum(tt: Resolver, t: Any, weights: np.ndarray) -> Any:
    n = weights.size
    return t.reshape(1, n).matmul(tt.Tensor(float32(weights.reshape(n, 1)))).sum()


def _scale_and_shift(tt: Resolver, norm: Any) -> tuple[Any, Any]:
    """LayerNorm's (gamma, beta), by name where an edition names them, else in parameters() order."""
    names = ("gamma", "weight", "beta", "bias")
    unset = dict(zip(names, tt.materialize([view_later("is_none", view_later("attr_or_none", norm, n))
                                            for n in names]), strict=True))
    scale = next((getattr(norm, n) for n in ("gamma", "weight") if not unset[n]), None)
    shift = next((getattr(norm, n) for n in ("beta", "bias") if not unset[n]), None)
    if scale is None or shift is None:
        scale, shift = _items(norm.parameters())[:2]
    return scale, shift


def _items(sequence: Any) -> list[Any]:
    """list(sequence); for a remote one in one round trip (list() would first ask its length in another)."""
    return [item for item in sequence]


def _shapes(taken: list[Any]) -> list[list[int]]:
    """The shapes of values already read."""
    return [list(v.shape) for v in taken]


def _block(tt: Resolver, challenge: dict[str, Any]) -> Any:
    _seed(tt, challenge)
    dim = challenge["heads"] * challenge["head_dim"]
    return _eval(tt.TransformerBlock(dim, challenge["heads"]))


def _gpt(tt: Resolver, challenge: dict[str, Any]) -> Any:
    _seed(tt, challenge)
    return _eval(tt.GPT(challenge["vocab"], challenge["heads"] * challenge["head_dim"], challenge["layers"],
                        challenge["heads"], max_seq_len=challenge["max_len"]))


def test_layernorm_normalises(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    norm = tt.LayerNorm(challenge["dim"])
    return {"out": values_later(norm(tt.Tensor(layer_norm_input(challenge))))}


def test_layernorm_matches_float64(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    norm = tt.LayerNorm(challenge["dim"])
    scale, shift = _scale_and_shift(tt, norm)
    gamma, beta = affine(challenge)
    scale.data, shift.data = gamma.copy(), beta.copy()
    out = values_later(norm(tt.Tensor(layer_norm_input(challenge))))
    out, *parameters = tt.materialize([out, *(values_later(p) for p in norm.parameters())])
    return {"out": out, "parameter_shapes": _shapes(parameters)}


def test_create_causal_mask(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"mask": values_later(tt.create_causal_mask(challenge["seq"]))}


def test_mlp_shape_and_parameters(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    dim = challenge["heads"] * challenge["head_dim"]
    mlp = tt.MLP(dim)
    out = values_later(mlp(tt.Tensor(inputs(challenge))))
    out, *parameters = tt.materialize([out, *(values_later(p) for p in mlp.parameters())])
    return {"shape": list(out.shape), "parameter_shapes": _shapes(parameters)}


def test_block_shape(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"shape": list(values(_block(tt, challenge)(tt.Tensor(inputs(challenge)))).shape)}


def test_block_residual(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    block = _block(tt, challenge)
    params = _items(block.parameters())
    for param, shape in zip(params, _shapes(tt.materialize([values_later(p) for p in params])), strict=True):
        param.data = float32(np.zeros(shape))
    return {"out": values_later(block(tt.Tensor(inputs(challenge))))}


def test_block_is_pre_norm(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    block = _block(tt, challenge)
    hidden = 4 * challenge["heads"] * challenge["head_dim"]
    # Silence the MLP (every parameter with the hidden size in its shape): what remains is x + attn(ln1(x))
    # plus the MLP's output bias, a constant.
    silenced = 0
    params = _items(block.parameters())
    for param, shape in zip(params, _shapes(tt.materialize([values_later(p) for p in params])), strict=True):
        if hidden in shape:
            param.data = float32(np.zeros(shape))
            silenced += 1
    x = inputs(challenge)
    return {"silenced": silenced, "out": values_later(block(tt.Tensor(x))),
            "out_scaled": values_later(block(tt.Tensor(float32(x * challenge["factor"]))))}


def test_block_causal_mask(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    block = _block(tt, challenge)
    seq, cut = challenge["seq"], challenge["cut"]
    mask = tt.Tensor(float32(np.tril(np.ones((seq, seq)))[None]))
    x = inputs(challenge)
    changed = x.copy()
    changed[:, cut:] = inputs(challenge, stream=1)[:, cut:]
    return {"out": values_later(block(tt.Tensor(x), mask)),
            "out_changed": values_later(block(tt.Tensor(changed), mask))}


def test_gpt_logits_shape(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"logits": values_later(_gpt(tt, challenge)(tt.Tensor(tokens(challenge))))}


def test_gpt_is_causal(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model = _gpt(tt, challenge)
    ids = tokens(challenge)
    changed = ids.copy()
    changed[:, challenge["cut"]:] = (ids[:, challenge["cut"]:] + 1) % challenge["vocab"]
    return {"logits": values_later(model(tt.Tensor(ids))), "logits_changed": values_later(model(tt.Tensor(changed)))}


def test_gpt_gradients_reach_all_parameters(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model = _gpt(tt, challenge)
    params = trainable(model.parameters())
    ids = tokens(challenge)
    logits = model(tt.Tensor(ids))
    targets = np.roll(ids, -1, axis=1).reshape(-1)
    tt.CrossEntropyLoss()(logits.reshape(-1, challenge["vocab"]), tt.Tensor(targets)).backward()
    taken, grads = tt.materialize([[values_later(p) for p in params], [grad_later(p) for p in params]])
    return {"shapes": _shapes(taken), "grads": grads,
            "tour": tour(tt, challenge, USES["test_gpt_gradients_reach_all_parameters"])}


def test_gpt_overfits_repeated_sequence(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model = _gpt(tt, challenge)
    params = trainable(model.parameters())
    x, y = training_sequences(challenge)
    loss_fn = tt.CrossEntropyLoss()
    taken, same_as = tt.materialize([[values_later(p) for p in params], view_later("first_same_index", params)])
    moments = [(np.zeros(shape), np.zeros(shape)) for shape in _shapes(taken)]
    # Each parameter's values as this probe last wrote them, by the first index of its tensor in parameters():
    # a tensor listed twice is updated twice in a row. Kept here, so each step reads only the gradients.
    current = {same_as[index]: value for index, value in enumerate(taken)}
    losses = []
    for step in range(1, challenge["steps"] + 1):
        for p in params:
            p.grad = None
        logits = model(tt.Tensor(x))
        loss = loss_fn(logits.reshape(-1, challenge["vocab"]), tt.Tensor(y.reshape(-1)))
        loss.backward()
        # One round trip a step: the loss, then every parameter's gradient.
        loss_value, grads = tt.materialize([values_later(loss), [grad_later(p) for p in params]])
        losses.append(float(loss_value.reshape(-1)[0]))
        # Cosine decay to near 0: a constant rate leaves Adam bouncing at the end (its step stays ~lr however
        # small the gradient), so the logits read after the last step could land on a spike.
        lr = challenge["lr"] * 0.5 * (1 + np.cos(np.pi * (step - 1) / challenge["steps"]))
        for index, (p, grad) in enumerate(zip(params, grads, strict=True)):
            if grad is None:
                continue
            data = current[same_as[index]]
            m, v = moments[index]
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            moments[index] = (m, v)
            update = lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
            p.data = current[same_as[index]] = float32(data - update)
    return {"losses": losses, "logits": values_later(model(tt.Tensor(x)))}
