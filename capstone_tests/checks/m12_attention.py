"""Module 12 (attention) checks: attention values, masking and gradients against float64 softmax(QK^T/√d)V,
and MultiHeadAttention recomputed here from the projection weights the probe wrote."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..probes import m12_attention as probes
from ..registry import check
from ..verdict import CheckFailed
from . import expect
from ._capstone_tour import blames_layers

MASK_RULE = ("positions where mask == 0 must get a large negative score (e.g. -1e9) added before the softmax, "
             "so they receive zero weight; positions where mask == 1 are kept")


# ----------------------------------------------------------------------------- float64 references
def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def attention_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                        mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask == 0, -np.inf, scores)
    weights = _softmax(scores)
    return weights @ v, weights


def attention_gradients(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                        g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dQ, dK, dV) of sum(attention(Q, K, V) * g)."""
    c = 1.0 / np.sqrt(q.shape[-1])
    _, a = attention_reference(q, k, v)
    da = g @ np.swapaxes(v, -1, -2)
    ds = a * (da - (da * a).sum(axis=-1, keepdims=True))
    return ds @ k * c, np.swapaxes(ds, -1, -2) @ q * c, np.swapaxes(a, -1, -2) @ g


def mha_reference(x: np.ndarray, params: dict[str, np.ndarray], heads: int,
                  mask: np.ndarray | None = None) -> np.ndarray:
    """Self-attention with heads as consecutive slices of embed_dim, Linear weights laid out (in, out)."""
    b, s, d = x.shape

    def split(name: str) -> np.ndarray:
        projected = x @ params[f"{name}.weight"] + params[f"{name}.bias"]
        return projected.reshape(b, s, heads, d // heads).transpose(0, 2, 1, 3)

    out, _ = attention_reference(split("q_proj"), split("k_proj"), split("v_proj"),
                                 None if mask is None else mask[:, None])
    return out.transpose(0, 2, 1, 3).reshape(b, s, d) @ params["out_proj.weight"] + params["out_proj.bias"]


# ----------------------------------------------------------------------------- challenges
def _sdpa_sizes(r: np.random.Generator) -> dict[str, Any]:
    return {"batch": 2, "seq": int(r.integers(3, 7)), "dim": int(r.integers(3, 9))}


def _rows(r: np.random.Generator) -> dict[str, Any]:
    return {**_sdpa_sizes(r), "lead": [int(r.integers(2, 4))], "scale": float(r.uniform(2.0, 4.0))}


def _padding(r: np.random.Generator) -> dict[str, Any]:
    sizes = _sdpa_sizes(r)
    return {**sizes, "lengths": [int(n) for n in r.integers(1, sizes["seq"], 2)]}


def _mha_sizes(r: np.random.Generator) -> dict[str, Any]:
    seq = int(r.integers(3, 7))
    return {"batch": 2, "seq": seq, "heads": int(r.integers(2, 4)), "head_dim": int(r.integers(2, 5)),
            "cut": int(r.integers(1, seq)), "perm": [int(i) for i in r.permutation(seq)]}


def _params(artefacts: dict[str, Any], dim: int) -> dict[str, np.ndarray]:
    params = {}
    for name in probes.PROJECTIONS:
        params[f"{name}.weight"] = expect.array(artefacts["params"], f"{name}.weight", shape=(dim, dim),
                                                module=12, what=f"MultiHeadAttention.{name}.weight")
        params[f"{name}.bias"] = expect.array(artefacts["params"], f"{name}.bias", shape=(dim,), module=12,
                                              what=f"MultiHeadAttention.{name}.bias")
    return params


def _mha_given(x: np.ndarray, params: dict[str, np.ndarray], challenge: dict[str, Any]) -> dict[str, Any]:
    """The input, the head count and the layer's own projection weights the expected output was computed from."""
    return {"x": x, "num_heads": challenge["heads"], **params}  # the example shows the first few


def _masked_weights_zero(weights: np.ndarray, mask: np.ndarray, what: str, expected: np.ndarray,
                         given: dict[str, Any]) -> None:
    blocked = np.abs(np.where(mask == 0, weights, 0.0))
    leaked = float(blocked.max())
    if leaked > 1e-6:
        worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(blocked)), blocked.shape))
        raise CheckFailed(f"{what}: a blocked position has attention weight {leaked:.3g} (should be 0): {MASK_RULE}",
                          12, example=expect.example(expected, weights, given, worst))


# ----------------------------------------------------------------------------- scaled_dot_product_attention
@check(module=12, challenge=_sdpa_sizes)
def test_sdpa_matches_float64(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    q, k, v = (a.astype(np.float64) for a in probes.qkv(challenge))
    out, weights = attention_reference(q, k, v)
    given = {"Q": q, "K": k, "V": v}
    expect.close(expect.array(artefacts, "weights", shape=weights.shape, module=12, what="attention_weights"),
                 weights, "attention_weights (softmax over the last axis of Q @ K^T / sqrt(d_k), d_k = Q's last "
                 "dimension)", module=12, rtol=1e-4, atol=1e-5, given=given)
    expect.close(expect.array(artefacts, "out", shape=out.shape, module=12, what="attention output"), out,
                 "attention output (attention_weights @ V)", module=12, rtol=1e-4, atol=1e-5, given=given)


@check(module=12, challenge=_rows)
def test_sdpa_weights_rows_sum_to_one(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    b, h, s = challenge["batch"], challenge["lead"][0], challenge["seq"]
    weights = expect.array(artefacts, "weights", shape=(b, h, s, s), module=12,
                           what="attention_weights for (batch, heads, seq, dim) inputs")
    expect.that(bool(np.all(weights >= -1e-7)), "attention_weights has negative entries: it must be a softmax", 12)
    sums = weights.sum(axis=-1)
    off = np.abs(sums - 1.0)
    worst = float(off.max())
    if worst > 1e-5:
        q, k, v = probes.qkv(challenge, scale=challenge["scale"])
        focus = tuple(int(i) for i in np.unravel_index(int(np.argmax(off)), off.shape))
        raise CheckFailed(f"a row of attention_weights sums to {1 + worst:.6g} instead of 1: take the softmax over "
                          f"the last axis (the keys), not another axis", 12, row_sums=sums.reshape(-1)[:6].tolist(),
                          example=expect.example(np.ones_like(sums), sums, {"Q": q, "K": k, "V": v}, focus))


@check(module=12, challenge=_sdpa_sizes)
def test_sdpa_causal_mask(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    q, k, v = (a.astype(np.float64) for a in probes.qkv(challenge))
    mask = probes.causal_mask(challenge)
    out, weights = attention_reference(q, k, v, mask)
    given = {"Q": q, "K": k, "V": v, "mask": mask}
    got = expect.array(artefacts, "weights", shape=weights.shape, module=12, what="attention_weights")
    _masked_weights_zero(got, mask, "with a causal (lower-triangular) mask, attention above the diagonal", weights,
                         given)
    expect.close(got, weights, "causally masked attention_weights", module=12, rtol=1e-4, atol=1e-5, given=given)
    expect.close(expect.array(artefacts, "out", shape=out.shape, module=12, what="attention output"), out,
                 "causally masked attention output", module=12, rtol=1e-4, atol=1e-5, given=given)


@check(module=12, challenge=_padding)
def test_sdpa_padding_mask(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    q, k, v = (a.astype(np.float64) for a in probes.qkv(challenge))
    mask = probes.padding_mask(challenge)
    out, weights = attention_reference(q, k, v, mask)
    given = {"Q": q, "K": k, "V": v, "mask": mask}
    got = expect.array(artefacts, "weights", shape=weights.shape, module=12, what="attention_weights")
    _masked_weights_zero(got, mask, f"with a padding mask (key lengths {challenge['lengths']}), a padded key",
                         weights, given)
    expect.close(got, weights, "attention_weights with a padding mask", module=12, rtol=1e-4, atol=1e-5, given=given)
    expect.close(expect.array(artefacts, "out", shape=out.shape, module=12, what="attention output"), out,
                 "attention output with a padding mask", module=12, rtol=1e-4, atol=1e-5, given=given)


@check(module=12, challenge=_sdpa_sizes)
def test_sdpa_gradients(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    q, k, v = (a.astype(np.float64) for a in probes.qkv(challenge))
    g = probes.upstream(challenge, (*q.shape[:-1], v.shape[-1])).astype(np.float64)
    for name, expected in zip(("Q", "K", "V"), attention_gradients(q, k, v, g), strict=True):
        key = f"{name.lower()}_grad"
        expect.that(artefacts.get(key) is not None,
                    f"{name}.grad is None: the attention output must stay connected to {name} through Tensor "
                    f"operations (matmul, transpose, softmax), not numpy on .data", 12)
        expect.close(expect.array(artefacts, key, shape=expected.shape, module=12, what=f"{name}.grad"), expected,
                     f"{name}.grad through scaled_dot_product_attention", module=12, rtol=1e-3, atol=1e-4,
                     given={"Q": q, "K": k, "V": v, "upstream": g})


# ----------------------------------------------------------------------------- MultiHeadAttention
@check(module=12, challenge=_mha_sizes)
def test_mha_output_shape(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    expected = (challenge["batch"], challenge["seq"], challenge["heads"] * challenge["head_dim"])
    expect.equal(list(artefacts["shape"]), list(expected),
                 f"MultiHeadAttention({expected[2]}, {challenge['heads']}) maps {expected} to "
                 f"{tuple(artefacts['shape'])}: the output must have the input's shape (batch, seq, embed_dim)", 12,
                 given={"input shape": list(expected), "num_heads": challenge["heads"]})


@check(module=12, challenge=_mha_sizes)
def test_mha_has_eight_parameters(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    d = challenge["heads"] * challenge["head_dim"]
    shapes = sorted(tuple(s) for s in artefacts["shapes"])
    expected = sorted([(d, d)] * 4 + [(d,)] * 4)
    expect.that(len(shapes) == 8, f"MultiHeadAttention.parameters() has {len(shapes)} tensors, expected 8 (weight "
                f"and bias of q_proj, k_proj, v_proj and out_proj)", 12, shapes=shapes)
    expect.that(shapes == expected, f"MultiHeadAttention({d}, ...) parameters have shapes {shapes}, expected four "
                f"({d}, {d}) weights and four ({d},) biases", 12)


@check(module=12, challenge=_mha_sizes)
@blames_layers(also=(12,))
def test_mha_all_parameters_get_gradients(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    grads = artefacts["parameter_grads"]
    expect.that(len(grads) == 8, f"MultiHeadAttention.parameters() has {len(grads)} tensors, expected 8", 12)
    missing = [i for i, g in enumerate(grads) if g is None]
    expect.that(not missing, f"parameters {missing} of MultiHeadAttention.parameters() got no gradient: every "
                f"projection must be applied with Tensor operations that autograd tracks", 12)
    for name in artefacts["named"]:
        got = expect.array(artefacts["named"], name, module=12, what=f"{name}.grad")
        # The key bias shifts every score of a row equally, which softmax ignores: its gradient is 0.
        if name != "k_proj.bias":
            expect.that(float(np.abs(got).max()) > 1e-7, f"{name}.grad is all zeros: the gradient does not reach "
                        f"{name} (is the projection's output used in the attention?)", 12)


@check(module=12, challenge=_mha_sizes)
def test_mha_matches_float64(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    d = challenge["heads"] * challenge["head_dim"]
    x = probes.mha_input(challenge).astype(np.float64)
    params = _params(artefacts, d)
    expected = mha_reference(x, params, challenge["heads"])
    expect.close(expect.array(artefacts, "out", shape=expected.shape, module=12, what="MultiHeadAttention output"),
                 expected, "MultiHeadAttention output (project with q/k/v_proj, split embed_dim into heads of "
                 "consecutive features, attend per head, concatenate, then out_proj)", module=12, rtol=1e-3,
                 atol=1e-4, given=_mha_given(x, params, challenge))


@check(module=12, challenge=_mha_sizes)
def test_mha_causal_mask(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    d, cut = challenge["heads"] * challenge["head_dim"], challenge["cut"]
    out = expect.array(artefacts, "out", shape=(challenge["batch"], challenge["seq"], d), module=12,
                       what="masked MultiHeadAttention output")
    changed = expect.array(artefacts, "out_changed", shape=out.shape, module=12,
                           what="masked MultiHeadAttention output")
    leak = float(np.abs(changed[:, :cut] - out[:, :cut]).max())
    if leak > 1e-5:
        # The example: the earlier positions' output, before (expected: it must not move) and after the change.
        given = {"x": probes.mha_input(challenge), "positions changed": f"{cut} and later", "mask": "causal"}
        raise CheckFailed(f"with a causal mask, changing the input at positions >= {cut} changed the output at "
                          f"earlier positions by up to {leak:.3g}: the future leaks into the past; {MASK_RULE}", 12,
                          example=expect.example(out[:, :cut], changed[:, :cut], given,
                                                 expect.worst(changed[:, :cut], out[:, :cut])))
    x, params = probes.mha_input(challenge).astype(np.float64), _params(artefacts, d)
    mask = probes.causal_mask(challenge)
    expected = mha_reference(x, params, challenge["heads"], mask)
    expect.close(out, expected, "causally masked MultiHeadAttention output (a (batch, seq, seq) mask applies to "
                 "every head)", module=12, rtol=1e-3, atol=1e-4,
                 given={"mask": mask} | _mha_given(x, params, challenge))


@check(module=12, challenge=_mha_sizes)
def test_mha_permutation_equivariant(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    out = expect.array(artefacts, "out", module=12, what="MultiHeadAttention output")
    permuted = expect.array(artefacts, "out_permuted", shape=out.shape, module=12,
                            what="MultiHeadAttention output for permuted positions")
    expect.close(permuted, out[:, challenge["perm"]], "MultiHeadAttention output for a permuted sequence (without "
                 "a mask, self-attention treats positions as a set: permuting the input positions must permute the "
                 "output the same way)", module=12, rtol=1e-3, atol=1e-4,
                 given={"x": probes.mha_input(challenge), "permutation of positions": challenge["perm"]})
