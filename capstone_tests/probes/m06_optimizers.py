"""Module 06 (optimizers) probes: parameter trajectories under SGD, Adam and AdamW, zero_grad, skipping.

Gradients always come from backward() of sum(p * g) (so the student's own gradient representation is
used, and each p.grad equals g exactly); between steps the probes clear p.grad themselves, so the
update tests do not depend on zero_grad, which has a test of its own.
"""

from __future__ import annotations

from typing import Any

from ..resolver import Resolver
from ._common import float32, grad_snapshot, values_later, values_snapshot


def _parameters(tt: Resolver, challenge: dict[str, Any]) -> list[Any]:
    return [tt.Tensor(float32(p), requires_grad=True) for p in challenge["params"]]


def _backward(tt: Resolver, params: list[Any], grads: list[Any]) -> None:
    """Leave exactly `grads` in the parameters' .grad: backward of sum_i sum(p_i * g_i)."""
    loss = None
    for p, g in zip(params, grads, strict=True):
        term = (p * tt.Tensor(float32(g))).sum()
        loss = term if loss is None else loss + term
    loss.backward()


def _grads(params: list[Any]) -> list[Any]:
    """Copies of the current gradients (the next backward may add into the same arrays), read at the end."""
    return [grad_snapshot(p) for p in params]


def _trajectory(tt: Resolver, challenge: dict[str, Any], name: str, **options: Any) -> list[list[Any]]:
    """The parameters before the first step, then after each step of optimizer `name` (copies, read at the end:
    an optimizer may update .data in place)."""
    params = _parameters(tt, challenge)
    optimizer = tt.get(name)(params, **options)
    history = [[values_snapshot(p) for p in params]]
    for grads in challenge["grads"]:
        for p in params:
            p.grad = None
        _backward(tt, params, grads)
        optimizer.step()
        history.append([values_snapshot(p) for p in params])
    return history


def test_sgd_plain(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    return {"history": _trajectory(tt, challenge, "SGD", lr=challenge["lr"])}


def test_sgd_momentum(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    return {"history": _trajectory(tt, challenge, "SGD", lr=challenge["lr"], momentum=challenge["momentum"])}


def test_sgd_weight_decay(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    lr, momentum, decay = challenge["lr"], challenge["momentum"], challenge["weight_decay"]
    return {
        "decay": _trajectory(tt, challenge, "SGD", lr=lr, weight_decay=decay),
        "decay_momentum": _trajectory(tt, challenge, "SGD", lr=lr, momentum=momentum, weight_decay=decay),
    }


def _adam_options(challenge: dict[str, Any]) -> dict[str, Any]:
    return {"lr": challenge["lr"], "betas": (challenge["beta1"], challenge["beta2"]), "eps": challenge["eps"]}


def test_adam_bias_correction(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    return {"history": _trajectory(tt, challenge, "Adam", **_adam_options(challenge))}


def test_adam_weight_decay_l2(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    return {"history": _trajectory(tt, challenge, "Adam", weight_decay=challenge["weight_decay"],
                                   **_adam_options(challenge))}


def test_adamw_decoupled_decay(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    return {"history": _trajectory(tt, challenge, "AdamW", weight_decay=challenge["weight_decay"],
                                   **_adam_options(challenge))}


def test_zero_grad_clears(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    facts: dict[str, Any] = {}
    for name in ("SGD", "Adam"):
        params = _parameters(tt, challenge)
        optimizer = tt.get(name)(params, lr=challenge["lr"])
        first, second = challenge["grads"][0], challenge["grads"][1]
        _backward(tt, params, first)
        facts[f"{name}_before"] = _grads(params)
        optimizer.zero_grad()
        facts[f"{name}_cleared"] = _grads(params)
        _backward(tt, params, second)
        facts[f"{name}_next"] = _grads(params)
    return facts


def test_step_skips_params_without_grad(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    facts: dict[str, Any] = {}
    runs = {
        "SGD": {"lr": challenge["lr"], "momentum": challenge["momentum"], "weight_decay": challenge["weight_decay"]},
        "Adam": _adam_options(challenge),
        "AdamW": {"weight_decay": challenge["weight_decay"], **_adam_options(challenge)},
    }
    for name, options in runs.items():
        params = _parameters(tt, challenge)  # params[-1] never takes part in the loss
        optimizer = tt.get(name)(params, **options)
        for grads in challenge["grads"]:
            for p in params:
                p.grad = None
            _backward(tt, params[:-1], grads[:-1])
            optimizer.step()
        facts[name] = [values_later(p) for p in params]
    return facts
