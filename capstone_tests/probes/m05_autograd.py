"""Module 05 (autograd) probes: gradients of small graphs, built only from the safe subset."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_later, grad_snapshot, rng, values_later, view_later


def test_scalar_chain_rule(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    w = tt.Tensor(float32([challenge["w"]]), requires_grad=True)
    y = (w * w + w).sum()
    y.backward()
    return {"value": values_later(y), "grad": grad_later(w)}


def test_broadcast_gradient(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    r = rng(challenge)
    rows, cols = challenge["rows"], challenge["cols"]
    x = tt.Tensor(float32(r.standard_normal((rows, cols))), requires_grad=True)
    b = tt.Tensor(float32(r.standard_normal((cols,))), requires_grad=True)
    ((x + b) * (x + b)).sum().backward()
    return {"x_grad": grad_later(x), "b_grad": grad_later(b)}


def test_shared_parameter_accumulates(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    r = rng(challenge)
    w = tt.Tensor(float32(r.standard_normal((challenge["n"], challenge["n"]))), requires_grad=True)
    x = tt.Tensor(float32(r.standard_normal((2, challenge["n"]))))
    ((x @ w) @ w).sum().backward()
    return {"w_grad": grad_later(w)}


def test_reused_intermediate_accumulates(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    r = rng(challenge)
    shape = (challenge["rows"], challenge["cols"])
    a = tt.Tensor(float32(r.standard_normal(shape)), requires_grad=True)
    b = tt.Tensor(float32(r.standard_normal(shape)), requires_grad=True)
    c = tt.Tensor(float32(r.standard_normal(shape)))
    h = a * b  # one intermediate, used by three operations: its gradient is the sum of all three
    (h * h + h * c).sum().backward()
    return {"a_grad": grad_later(a), "b_grad": grad_later(b)}


def test_matmul_gradient(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    a = tt.Tensor(float32(challenge["a"]), requires_grad=True)
    b = tt.Tensor(float32(challenge["b"]), requires_grad=True)
    ((a @ b) * tt.Tensor(float32(challenge["c"]))).sum().backward()
    return {"a_grad": grad_later(a), "b_grad": grad_later(b)}


def test_gradient_dtype_float32(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    x = tt.Tensor(float32(challenge["x"]), requires_grad=True)
    w = tt.Tensor(float32(challenge["w"]), requires_grad=True)
    b = tt.Tensor(float32(challenge["b"]), requires_grad=True)
    c = tt.Tensor(float32(challenge["c"]))
    facts: dict[str, Any] = {}
    for rounds in (1, 2):  # the second backward adds to the gradients the first one left
        ((x @ w + b) * c).sum().backward()
        for name, t in (("x", x), ("w", w), ("b", b)):
            grad = grad_snapshot(t)  # a copy: the second backward may add in place
            facts[f"{name}_dtype_{rounds}"] = view_later("dtype_name", grad)
            facts[f"{name}_{rounds}"] = grad
    return facts


def test_reshape_transpose_indexing_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    a, b, c = challenge["a"], challenge["b"], challenge["c"]
    x = tt.Tensor(float32(challenge["x"]), requires_grad=True)  # (a, b * c)
    swapped = x.reshape(a, b, c).transpose(0, 2)  # (c, b, a)
    picked = swapped[np.asarray(challenge["rows"], dtype=np.int64)]
    sliced = swapped[1:]
    loss = (picked * tt.Tensor(float32(challenge["w"]))).sum() + (sliced * tt.Tensor(float32(challenge["v"]))).sum()
    loss.backward()
    return {"x_grad": grad_later(x)}


def test_mlp_gradients_vs_finite_differences(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    params = {name: tt.Tensor(float32(challenge[name]), requires_grad=True) for name in ("w1", "b1", "w2", "b2")}
    x, y = tt.Tensor(float32(challenge["x"])), tt.Tensor(float32(challenge["y"]))
    hidden = tt.Sigmoid()(x @ params["w1"] + params["b1"])
    diff = hidden @ params["w2"] + params["b2"] - y
    # sum, not mean: the course never gives Tensor.mean a backward (docs/student-api.md, the safe subset).
    loss = (diff * diff).sum()
    loss.backward()
    return {"loss": values_later(loss), **{name: grad_later(p) for name, p in params.items()}}
