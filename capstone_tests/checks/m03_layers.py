"""Module 03 (layers) checks: Linear against x @ W + b and its closed-form gradients; Dropout's statistics."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..probes.m03_layers import dropout_input
from ..registry import check
from ..verdict import CheckFailed
from . import expect


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _numbers(r: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return np.round(r.standard_normal(shape) * scale, 3)


def _sizes(r: np.random.Generator) -> tuple[int, int, int]:
    return int(r.integers(2, 6)), int(r.integers(2, 6)), int(r.integers(2, 6))  # batch, in, out


def _grad(artefacts: dict[str, Any], key: str, expected: np.ndarray, name: str, formula: str) -> None:
    """A parameter's gradient: present, of the parameter's own shape, and equal to the closed form."""
    if artefacts.get(key) is None:
        raise CheckFailed(f"{name} got no gradient: forward must compute with the parameter Tensors themselves "
                          f"(not their .data or a copy), so backward() reaches them",
                          example=expect.example(expected, None))
    got = expect.array(artefacts, key, what=f"the gradient of {name}")
    if got.shape != expected.shape:
        hint = (f": a broadcast operand's gradient must be summed back to its own shape {expected.shape}"
                if got.size > expected.size else "")
        raise CheckFailed(f"the gradient of {name} has shape {got.shape}, expected {expected.shape}{hint}",
                          expected_shape=expected.shape, got_shape=got.shape, example=expect.example(expected, got))
    expect.close(got, expected, f"the gradient of {name} (expected {formula})", rtol=1e-4, atol=1e-4)


def _shapes_challenge(r: np.random.Generator) -> dict[str, Any]:
    n_in = int(r.integers(2, 9))
    n_out = int(r.integers(2, 9))
    if n_out == n_in:
        n_out += 1  # a transposed (out, in) weight must be told apart from (in, out)
    return {"n_in": n_in, "n_out": n_out}


@check(module=3, challenge=_shapes_challenge)
def test_linear_shapes_and_parameters(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    n_in, n_out = challenge["n_in"], challenge["n_out"]
    shape = list(artefacts["weight_shape"])
    given = {"in_features": n_in, "out_features": n_out}
    expect.equal(shape, [n_in, n_out],
                 f"Linear({n_in}, {n_out}).weight has shape {tuple(shape)}, expected ({n_in}, {n_out}): the course "
                 f"stores W as (in_features, out_features) so that forward is x @ W + b", given=given)
    expect.that(artefacts["weight_dtype"] == "float32",
                f"Linear's weight is {artefacts['weight_dtype']}, expected float32")
    expect.equal(artefacts["bias_shape"], [n_out],
                 f"Linear({n_in}, {n_out}).bias has shape {artefacts['bias_shape']}, expected ({n_out},)", given=given)
    expect.equal(artefacts["parameter_count"], 2,
                 f"Linear.parameters() returned {artefacts['parameter_count']} items, expected 2: [weight, bias]",
                 given=given)
    expect.that(artefacts["first_is_weight"] is True and artefacts["second_is_bias"] is True,
                "Linear.parameters() must return [self.weight, self.bias], the layer's own Tensors in that order "
                "(not copies), or an optimizer updates something the layer never uses")
    expect.that(artefacts["no_bias_is_none"] is True, "Linear(..., bias=False).bias should be None")
    expect.that(artefacts["no_bias_parameter_count"] == 1 and artefacts["no_bias_first_is_weight"] is True,
                "Linear(..., bias=False).parameters() must return just [weight]")


def _forward_challenge(r: np.random.Generator) -> dict[str, Any]:
    batch, n_in, n_out = _sizes(r)
    return {"weight": _numbers(r, (n_in, n_out)).tolist(), "bias": _numbers(r, (n_out,)).tolist(),
            "x": _numbers(r, (batch, n_in)).tolist(), "c": _numbers(r, (batch, n_out)).tolist()}


@check(module=3, challenge=_forward_challenge)
def test_linear_forward(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    w, b, x = _f32(challenge["weight"]), _f32(challenge["bias"]), _f32(challenge["x"])
    expected = x @ w + b
    for key, what in (("called", "layer(x)"), ("forward", "layer.forward(x)")):
        got = expect.array(artefacts, key, what=what)
        dtype = getattr(artefacts[key], "dtype", None)
        expect.that(dtype == np.float32, f"{what} is {dtype}, expected float32")
        expect.that(got.shape == expected.shape, f"{what} for x of shape {x.shape} has shape {got.shape}, "
                    f"expected {expected.shape}")
        expect.close(got, expected, f"{what} (expected x @ W + b)", rtol=1e-5, atol=1e-5,
                     given={"x": x, "W": w, "b": b})


@check(module=3, challenge=_forward_challenge)
def test_linear_gradients(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    w, x, c = _f32(challenge["weight"]), _f32(challenge["x"]), _f32(challenge["c"])
    with expect.given(x=x, W=w, upstream=c):
        _grad(artefacts, "weight_grad", x.T @ c, "Linear's weight", "x.T @ upstream")
        _grad(artefacts, "bias_grad", c.sum(axis=0), f"Linear's bias (batch of {x.shape[0]})",
              "the upstream gradient summed over the batch")
        _grad(artefacts, "x_grad", c @ w.T, "Linear's input", "upstream @ W.T")


def _two_layer_challenge(r: np.random.Generator) -> dict[str, Any]:
    batch, n_in, hidden = _sizes(r)
    n_out = int(r.integers(1, 4))
    x, w1, w2 = _numbers(r, (batch, n_in)), _numbers(r, (n_in, hidden)), _numbers(r, (hidden, n_out))
    c = _numbers(r, (batch, n_out))
    upstream = np.abs(_f32(c) @ _f32(w2).T)
    for _ in range(500):
        b1 = _numbers(r, (hidden,))
        pre = _f32(x) @ _f32(w1) + _f32(b1)
        # Every pre-activation off ReLU's kink (float32 and float64 may take different sides), and some unit
        # active with a value far from 1 under a real upstream gradient: there a ReLU whose backward multiplies
        # by its output instead of by (x > 0) gives a visibly different gradient. With every unit off, both
        # gradients would be zero and the test could not tell them apart.
        telling = (pre > 0) & (np.abs(pre - 1.0) > 0.2) & (upstream > 0.05)
        if np.abs(pre).min() > 0.05 and telling.any():
            break
    return {"x": x.tolist(), "w1": w1.tolist(), "b1": b1.tolist(), "w2": w2.tolist(),
            "b2": _numbers(r, (n_out,)).tolist(), "c": c.tolist()}


@check(module=3, challenge=_two_layer_challenge)
def test_two_layer_gradients(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x, w1, b1, w2 = (_f32(challenge[k]) for k in ("x", "w1", "b1", "w2"))
    c = _f32(challenge["c"])
    pre = x @ w1 + b1
    hidden = np.maximum(pre, 0.0)
    d_pre = (c @ w2.T) * (pre > 0)
    where = "in Linear -> ReLU -> Linear"
    with expect.given(x=x, W1=w1, b1=b1, W2=w2, upstream=c):
        _grad(artefacts, "w2", hidden.T @ c, f"the second Linear's weight {where}", "relu(h).T @ upstream")
        _grad(artefacts, "b2", c.sum(axis=0), f"the second Linear's bias {where}", "upstream summed over the batch")
        _grad(artefacts, "w1", x.T @ d_pre, f"the first Linear's weight {where}",
              "x.T @ ((upstream @ W2.T) * (h > 0)): the gradient flows back through the second Linear and ReLU")
        _grad(artefacts, "b1", d_pre.sum(axis=0), f"the first Linear's bias {where}",
              "((upstream @ W2.T) * (h > 0)) summed over the batch")


@check(module=3, challenge=lambda r: {"n_in": int(r.integers(32, 65)), "n_out": int(r.integers(16, 49))})
def test_linear_init_breaks_symmetry(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    n_in, n_out = challenge["n_in"], challenge["n_out"]
    a = expect.array(artefacts, "a", shape=(n_in, n_out), what="a new Linear's weight")
    b = expect.array(artefacts, "b", shape=(n_in, n_out), what="a second new Linear's weight")
    expect.that(float(a.std()) > 0, "a new Linear's weights are all equal: initialise them randomly, or every "
                "unit computes the same thing and learns the same thing")
    expect.that(not np.array_equal(a, b), "two new Linear layers got identical weights: draw fresh random "
                "numbers for each layer")
    # Xavier (1/in), He (2/in) and uniform variants all give std * sqrt(in) between about 0.5 and 1.5.
    scaled = float(a.std()) * np.sqrt(n_in)
    expect.that(0.2 <= scaled <= 3.0,
                f"Linear({n_in}, {n_out}) initial weights have std {a.std():.4g}, far from the usual "
                f"1/sqrt(in_features) = {1 / np.sqrt(n_in):.4g}: activations will vanish or explode with depth")


def _dropout_challenge(r: np.random.Generator) -> dict[str, Any]:
    shape = _sizes(r)[:2]
    return {"p": float(np.round(r.uniform(0.2, 0.7), 2)), "x": _numbers(r, shape).tolist()}


@check(module=3, challenge=_dropout_challenge)
def test_dropout_eval_is_identity(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x = _f32(challenge["x"])
    got = expect.array(artefacts, "eval", shape=x.shape, what=f"Dropout({challenge['p']}).forward(x, training=False)")
    expect.close(got, x, f"Dropout({challenge['p']}).forward(x, training=False) (must return x unchanged)",
                 rtol=0, atol=0, given={"p": challenge["p"], "x": x, "training": False})
    got = expect.array(artefacts, "p_zero_training", shape=x.shape, what="Dropout(0.0).forward(x, training=True)")
    expect.close(got, x, "Dropout(0.0).forward(x, training=True) (drops nothing, so must return x)",
                 rtol=1e-7, atol=0, given={"p": 0.0, "x": x, "training": True})


def _dropout_training_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"p": float(np.round(r.uniform(0.2, 0.7), 2)), "rows": int(r.integers(40, 61)),
            "cols": int(r.integers(60, 81))}


@check(module=3, challenge=_dropout_training_challenge)
def test_dropout_training_scaling(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    p = challenge["p"]
    x = dropout_input(challenge["rows"], challenge["cols"]).astype(np.float64)
    first = expect.array(artefacts, "first", shape=x.shape, what=f"Dropout({p}).forward(x, training=True)")
    second = expect.array(artefacts, "second", shape=x.shape, what="a second Dropout forward in training mode")
    dropped = first == 0
    fraction = float(dropped.mean())
    # Five standard deviations of a binomial fraction: a correct layer fails about once in 3 million runs.
    allowed = max(0.02, 5 * np.sqrt(p * (1 - p) / x.size))
    expect.that(abs(fraction - p) <= allowed,
                f"Dropout({p}) in training mode zeroed {fraction:.1%} of the inputs, expected about {p:.0%}",
                dropped_fraction=fraction)
    kept = ~dropped
    expect.close(first[kept], x[kept] / (1 - p),
                 f"the inputs Dropout({p}) kept (inverted dropout scales them by 1/(1-p) = {1 / (1 - p):.4g}, so "
                 f"evaluation needs no rescaling)", rtol=1e-5, atol=1e-6, given={"p": p, "kept x": x[kept]})
    expect.that(not np.array_equal(first == 0, second == 0),
                "two training-mode Dropout calls dropped exactly the same inputs: draw a new mask on every forward")
