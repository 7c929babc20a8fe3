"""Module 05 (autograd) probes: gradients of small graphs, built only from the safe subset."""

from __future__ import annotations

from typing import Any

from ..resolver import Resolver
from ._common import float32, grad_of, rng, values


def test_scalar_chain_rule(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    w = tt.Tensor(float32([challenge["w"]]), requires_grad=True)
    y = (w * w + w).sum()
    y.backward()
    return {"value": values(y), "grad": grad_of(w)}


def test_broadcast_gradient(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    r = rng(challenge)
    rows, cols = challenge["rows"], challenge["cols"]
    x = tt.Tensor(float32(r.standard_normal((rows, cols))), requires_grad=True)
    b = tt.Tensor(float32(r.standard_normal((cols,))), requires_grad=True)
    ((x + b) * (x + b)).sum().backward()
    return {"x_grad": grad_of(x), "b_grad": grad_of(b)}


def test_shared_parameter_accumulates(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    r = rng(challenge)
    w = tt.Tensor(float32(r.standard_normal((challenge["n"], challenge["n"]))), requires_grad=True)
    x = tt.Tensor(float32(r.standard_normal((2, challenge["n"]))))
    ((x @ w) @ w).sum().backward()
    return {"w_grad": grad_of(w)}
