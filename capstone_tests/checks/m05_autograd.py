"""Module 05 (autograd) checks: gradients against closed forms and the reference."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..harness import on_reference
from ..probes import m05_autograd as probes
from ..registry import check
from ..verdict import CheckFailed
from . import expect


@check(module=5, challenge=lambda r: {"w": float(r.integers(-5, 6))})
def test_scalar_chain_rule(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    w = challenge["w"]
    with expect.given(w=w):
        expect.close(expect.array(artefacts, "value", module=5).reshape(-1), [w * w + w], "w*w + w", module=5)
        expect.close(expect.array(artefacts, "grad", what="w.grad", module=5).reshape(-1), [2 * w + 1],
                     "d(w*w + w)/dw", module=5)


@check(module=5, challenge=lambda r: {"rows": int(r.integers(2, 6)), "cols": int(r.integers(2, 6))},
       uses_reference=True)
def test_broadcast_gradient(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    expected = on_reference(probes.test_broadcast_gradient, challenge)
    shape = (challenge["rows"], challenge["cols"])
    r = probes.rng(challenge)  # the probe's inputs, drawn again in its order
    x, b = probes.float32(r.standard_normal(shape)), probes.float32(r.standard_normal((challenge["cols"],)))
    given = {"x": x, "b": b, "loss": "sum((x + b) * (x + b))"}
    expect.close(expect.array(artefacts, "x_grad", shape=shape, module=5), expected["x_grad"], "x.grad", module=5,
                 given=given)
    b_grad = expect.array(artefacts, "b_grad", module=5)
    if b_grad.shape != (challenge["cols"],):
        raise CheckFailed(f"the bias gradient has shape {b_grad.shape}: a broadcast operand's gradient must be summed "
                          f"back to its own shape ({challenge['cols']},)", module=5,
                          example=expect.example(expected["b_grad"], b_grad, given))
    expect.close(b_grad, expected["b_grad"], "b.grad (broadcast over rows)", module=5, given=given)


@check(module=5, challenge=lambda r: {"n": int(r.integers(2, 5))}, uses_reference=True)
def test_shared_parameter_accumulates(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    expected = on_reference(probes.test_shared_parameter_accumulates, challenge)
    got = expect.array(artefacts, "w_grad", shape=(challenge["n"],) * 2, module=5)
    r = probes.rng(challenge)  # the probe's inputs, drawn again in its order
    w = probes.float32(r.standard_normal((challenge["n"], challenge["n"])))
    x = probes.float32(r.standard_normal((2, challenge["n"])))
    expect.close(got, np.asarray(expected["w_grad"]), "gradient of a weight used twice (must be the sum)",
                 module=5, rtol=1e-3, given={"w": w, "x": x, "loss": "sum((x @ w) @ w)"})


@check(module=5, challenge=lambda r: {"rows": int(r.integers(2, 5)), "cols": int(r.integers(2, 5))})
def test_reused_intermediate_accumulates(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    # A backward that frees a node's graph after its first use, or passes on an intermediate's gradient before
    # every use of it has added its share, loses part of d(out)/dh = 2h + c.
    r = probes.rng(challenge)
    shape = (challenge["rows"], challenge["cols"])
    a, b, c = (np.asarray(probes.float32(r.standard_normal(shape)), dtype=np.float64) for _ in range(3))
    upstream = 2 * a * b + c
    for key, expected, other in (("a_grad", upstream * b, "b"), ("b_grad", upstream * a, "a")):
        got = expect.array(artefacts, key, shape=shape, module=5, what=f"the gradient of {key[0]}")
        expect.close(got, expected, f"the gradient of {key[0]} through h = a * b used three times in h * h + h * c "
                     f"(expected (2h + c) * {other}: every use of h adds its share before h passes it on)",
                     module=5, rtol=1e-4, atol=1e-5, given={"a": a, "b": b, "c": c})


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _numbers(r: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> list:
    return np.round(r.standard_normal(shape) * scale, 3).tolist()


def _gradient(artefacts: dict[str, Any], key: str, expected: np.ndarray, what: str, rtol: float = 1e-4,
              atol: float = 1e-5) -> None:
    if artefacts.get(key) is None:
        raise CheckFailed(f"{what} is None: backward() did not reach this tensor (it requires grad and the loss "
                          f"depends on it)", module=5, example=expect.example(expected, None))
    got = expect.array(artefacts, key, what=what, module=5)
    if got.shape != expected.shape:
        hint = (f": a broadcast operand's gradient must be summed back to its own shape {expected.shape}"
                if got.size > expected.size else "")
        raise CheckFailed(f"{what} has shape {got.shape}, expected {expected.shape}{hint}", module=5,
                          example=expect.example(expected, got))
    expect.close(got, expected, what, module=5, rtol=rtol, atol=atol)


def _matmul_challenge(r: np.random.Generator) -> dict[str, Any]:
    n, k, m = (int(v) for v in r.integers(2, 6, 3))
    return {"a": _numbers(r, (n, k)), "b": _numbers(r, (k, m)), "c": _numbers(r, (n, m))}


@check(module=5, challenge=_matmul_challenge)
def test_matmul_gradient(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    a, b, c = _f32(challenge["a"]), _f32(challenge["b"]), _f32(challenge["c"])
    with expect.given(a=a, b=b, c=c):
        _gradient(artefacts, "a_grad", c @ b.T, "a.grad for sum((a @ b) * c) (expected c @ b.T)")
        _gradient(artefacts, "b_grad", a.T @ c, "b.grad for sum((a @ b) * c) (expected a.T @ c)")


def _dtype_challenge(r: np.random.Generator) -> dict[str, Any]:
    n, k, m = (int(v) for v in r.integers(2, 5, 3))
    return {"x": _numbers(r, (n, k)), "w": _numbers(r, (k, m)), "b": _numbers(r, (m,)), "c": _numbers(r, (n, m))}


@check(module=5, challenge=_dtype_challenge)
def test_gradient_dtype_float32(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x, w, c = _f32(challenge["x"]), _f32(challenge["w"]), _f32(challenge["c"])
    expected = {"x": c @ w.T, "w": x.T @ c, "b": c.sum(axis=0)}
    for rounds in (1, 2):
        when = "after one backward()" if rounds == 1 else "after a second backward() (gradients accumulate)"
        for name, grad in expected.items():
            dtype = artefacts[f"{name}_dtype_{rounds}"]
            expect.that(dtype is None or dtype == "float32",
                        f"{name}.grad {when} is stored as {dtype}: keep gradients float32 numpy arrays (dtype "
                        f"object means Tensors or Python objects were mixed into the array)", module=5)
            with expect.given(x=x, w=w, b=_f32(challenge["b"]), c=c):
                _gradient(artefacts, f"{name}_{rounds}", grad * rounds,
                          f"{name}.grad {when} for sum((x @ w + b) * c)")


def _reshape_challenge(r: np.random.Generator) -> dict[str, Any]:
    a, b, c = int(r.integers(2, 4)), int(r.integers(2, 4)), int(r.integers(2, 5))
    # Distinct rows: the course's own indexing backward assigns instead of adding, so repeated indices
    # would fail its solution for a case no graded model exercises.
    rows = [int(v) for v in r.permutation(c)[: int(r.integers(2, c + 1))]]
    return {"a": a, "b": b, "c": c, "x": _numbers(r, (a, b * c)), "rows": rows,
            "w": _numbers(r, (len(rows), b, a)), "v": _numbers(r, (c - 1, b, a))}


@check(module=5, challenge=_reshape_challenge)
def test_reshape_transpose_indexing_gradients(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    a, b, c = challenge["a"], challenge["b"], challenge["c"]
    upstream = np.zeros((c, b, a))  # gradient of the loss at x.reshape(a, b, c).transpose(0, 2)
    np.add.at(upstream, np.asarray(challenge["rows"]), _f32(challenge["w"]))
    upstream[1:] += _f32(challenge["v"])
    expected = np.swapaxes(upstream, 0, 2).reshape(a, b * c)
    with expect.given(x=_f32(challenge["x"]), rows=challenge["rows"], w=_f32(challenge["w"]),
                      v=_f32(challenge["v"])):
        _gradient(artefacts, "x_grad", expected,
                  f"x.grad through reshape({a}, {b}, {c}) -> transpose(0, 2) -> t[{challenge['rows']}] and t[1:] "
                  f"(each step's backward undoes its forward)")


def _mlp_challenge(r: np.random.Generator) -> dict[str, Any]:
    n, d, h, o = int(r.integers(3, 7)), int(r.integers(2, 5)), int(r.integers(2, 6)), int(r.integers(1, 4))
    return {"x": _numbers(r, (n, d)), "y": _numbers(r, (n, o)), "w1": _numbers(r, (d, h)), "b1": _numbers(r, (h,)),
            "w2": _numbers(r, (h, o)), "b2": _numbers(r, (o,))}


def _mlp_loss(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    hidden = 0.5 * (1.0 + np.tanh(0.5 * (x @ p["w1"] + p["b1"])))  # sigmoid
    diff = hidden @ p["w2"] + p["b2"] - y
    return float((diff * diff).sum())


@check(module=5, challenge=_mlp_challenge)
def test_mlp_gradients_vs_finite_differences(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x, y = _f32(challenge["x"]), _f32(challenge["y"])
    params = {name: _f32(challenge[name]) for name in ("w1", "b1", "w2", "b2")}
    loss = _mlp_loss(params, x, y)
    given = {"x": x, "y": y, **params}
    expect.close(np.asarray(expect.number(artefacts, "loss", module=5)), np.asarray(loss),
                 "the MLP's loss sum((sigmoid(x @ w1 + b1) @ w2 + b2 - y)^2)", module=5, rtol=1e-5, atol=1e-6,
                 given=given)
    step = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][index] = value[index] + step
            up = _mlp_loss(shifted, x, y)
            shifted[name][index] = value[index] - step
            numeric[index] = (up - _mlp_loss(shifted, x, y)) / (2 * step)
        with expect.given(**given):
            _gradient(artefacts, name, numeric, f"{name}.grad of a Linear-Sigmoid-Linear network with a summed "
                      f"squared error (compared with float64 central finite differences)", rtol=1e-3, atol=1e-5)
