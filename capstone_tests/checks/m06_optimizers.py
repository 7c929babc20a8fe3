"""Module 06 (optimizers) checks: parameter trajectories against the update rules, computed in float64.

The comparison is on each parameter's change from its start (p_t - p_0), so the tolerance scales with the
update and not with the weights: float32 rounding stays far below it, a wrong rule (no bias correction,
coupled decay, dampened momentum) far above.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import check
from ..verdict import CheckFailed
from . import expect

History = list[list[np.ndarray]]
RTOL, ATOL = 1e-3, 3e-6


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _problem(r: np.random.Generator, steps: int, count: int = 2) -> dict[str, Any]:
    """Starting parameters (a matrix, then vectors) and one gradient per parameter per step."""
    shapes = [(int(r.integers(2, 4)), int(r.integers(2, 4)))] + [(int(r.integers(2, 5)),) for _ in range(count - 1)]
    params = [np.round(r.uniform(-2.0, 2.0, s), 3).tolist() for s in shapes]
    # Gradients of magnitude 0.1 to 1 with either sign: every element moves by a measurable amount.
    grads = [[np.round(r.uniform(0.1, 1.0, s) * r.choice([-1.0, 1.0], s), 3).tolist() for s in shapes]
             for _ in range(steps)]
    return {"params": params, "grads": grads}


def _adam_constants(r: np.random.Generator) -> dict[str, Any]:
    return {"lr": float(np.round(r.uniform(0.01, 0.1), 4)), "beta1": float(np.round(r.uniform(0.8, 0.95), 3)),
            "beta2": float(np.round(r.uniform(0.99, 0.9995), 4)), "eps": 1e-8}


def _start(challenge: dict[str, Any]) -> list[np.ndarray]:
    return [_f32(p) for p in challenge["params"]]


def _steps(challenge: dict[str, Any], used: int | None = None) -> list[list[np.ndarray]]:
    return [[_f32(g) for g in step[:used]] for step in challenge["grads"]]


def _sgd(params: list[np.ndarray], grads: list[list[np.ndarray]], lr: float, momentum: float = 0.0,
         decay: float = 0.0) -> History:
    """PyTorch's SGD: d = g + decay * p; v = momentum * v + d (v = d at the first step); p -= lr * v."""
    p = [x.copy() for x in params]
    v = [np.zeros_like(x) for x in params]
    history = []
    for step in grads:
        for i, g in enumerate(step):
            d = g + decay * p[i]
            if momentum:
                v[i] = momentum * v[i] + d
                d = v[i]
            p[i] = p[i] - lr * d
        history.append([x.copy() for x in p])
    return history


def _adam(params: list[np.ndarray], grads: list[list[np.ndarray]], challenge: dict[str, Any], decay: float = 0.0,
          mode: str = "l2", corrected: bool = True) -> History:
    """Adam; `mode` places the weight decay: "l2" (into the gradient, Adam), "before" / "after" the update
    (decoupled, AdamW: PyTorch shrinks first, the course's solution after; both are accepted)."""
    lr, b1, b2, eps = challenge["lr"], challenge["beta1"], challenge["beta2"], challenge["eps"]
    p = [x.copy() for x in params]
    m = [np.zeros_like(x) for x in params]
    v = [np.zeros_like(x) for x in params]
    history = []
    for t, step in enumerate(grads, start=1):
        for i, g in enumerate(step):
            if mode == "l2":
                g = g + decay * p[i]
            elif mode == "before":
                p[i] = p[i] * (1 - lr * decay)
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1**t) if corrected else m[i]
            v_hat = v[i] / (1 - b2**t) if corrected else v[i]
            p[i] = p[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
            if mode == "after":
                p[i] = p[i] * (1 - lr * decay)
        history.append([x.copy() for x in p])
    return history


def _history(artefacts: dict[str, Any], key: str, expected: History, what: str) -> History:
    """The probe's parameters after each step, as float64, after checking they stayed float32."""
    raw = artefacts.get(key)
    expect.that(isinstance(raw, list) and len(raw) == len(expected) + 1 and isinstance(raw[0], list),
                f"{what}: expected the parameters before and after each of {len(expected)} steps")
    for value in raw[0]:
        dtype = getattr(value, "dtype", None)
        expect.that(dtype is None or dtype == np.float32,
                    f"a new Tensor built from float32 numbers holds {dtype} data: Tensor must store float32",
                    module=1)
    history = []
    for t, (step, wanted) in enumerate(zip(raw[1:], expected, strict=True), start=1):
        expect.that(isinstance(step, list) and len(step) == len(wanted), f"{what}: wrong number of parameters")
        row = []
        for i, (value, target) in enumerate(zip(step, wanted, strict=True)):
            dtype = getattr(value, "dtype", None)
            expect.that(dtype is None or dtype == np.float32,
                        f"{what}: parameter {i} is {dtype} after step {t}: the update must keep .data float32 "
                        f"(a float64 array or np.float64 scalar in the update promotes it; Python floats do not)")
            row.append(expect.array({"p": value}, "p", shape=target.shape,
                                    what=f"{what}: parameter {i} after step {t}"))
        history.append(row)
    return history


def _matches(got: History, expected: History, start: list[np.ndarray]) -> bool:
    return all(np.allclose(g - p0, e - p0, rtol=RTOL, atol=ATOL)
               for step_got, step_expected in zip(got, expected, strict=True)
               for g, e, p0 in zip(step_got, step_expected, start, strict=True))


def _given(hyper: dict[str, Any], start: list[np.ndarray], grads: list[list[np.ndarray]], i: int,
           steps: int) -> dict[str, Any]:
    """The inputs of parameter i's change after `steps` steps: the optimizer's settings, its start, its gradients."""
    return {**hyper, f"p{i} at start": start[i],
            **{f"grad of p{i} at step {s}": grads[s - 1][i] for s in range(1, steps + 1)}}


def _unless(matches: bool, message: str, got: History, expected: History, start: list[np.ndarray],
            hyper: dict[str, Any], grads: list[list[np.ndarray]]) -> None:
    """Fail with `message` when the run matched a known mistake; the example is the first parameter's first step."""
    if matches:
        raise CheckFailed(message, example=expect.example(expected[0][0] - start[0], got[0][0] - start[0],
                                                          _given(hyper, start, grads, 0, 1)))


def _require(got: History, expected: History, start: list[np.ndarray], what: str, hyper: dict[str, Any],
             grads: list[list[np.ndarray]], final: bool = False) -> None:
    """`final`: got and expected hold only the parameters after the last of `grads`' steps."""
    for t, (step_got, step_expected) in enumerate(zip(got, expected, strict=True), start=1):
        for i, (g, e, p0) in enumerate(zip(step_got, step_expected, start, strict=True)):
            given = _given(hyper, start, grads, i, len(grads) if final else t)
            expect.close(g - p0, e - p0, f"{what}: the change of parameter {i} after step {t}", rtol=RTOL, atol=ATOL,
                         given=given)


def _sgd_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"lr": float(np.round(r.uniform(0.01, 0.2), 4)), "momentum": float(np.round(r.uniform(0.5, 0.95), 3)),
            "weight_decay": float(np.round(r.uniform(0.01, 0.3), 3)), **_problem(r, steps=4)}


@check(module=6, challenge=_sgd_challenge)
def test_sgd_plain(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    start = _start(challenge)
    expected = _sgd(start, _steps(challenge), challenge["lr"])
    what = f"SGD(lr={challenge['lr']}) (p -= lr * grad)"
    _require(_history(artefacts, "history", expected, what), expected, start, what, {"lr": challenge["lr"]},
             _steps(challenge))


@check(module=6, challenge=_sgd_challenge)
def test_sgd_momentum(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    start = _start(challenge)
    expected = _sgd(start, _steps(challenge), challenge["lr"], momentum=challenge["momentum"])
    what = (f"SGD(lr={challenge['lr']}, momentum={challenge['momentum']}) (v = momentum * v + grad, starting from "
            f"v = 0; p -= lr * v)")
    _require(_history(artefacts, "history", expected, what), expected, start, what,
             {"lr": challenge["lr"], "momentum": challenge["momentum"]}, _steps(challenge))


@check(module=6, challenge=_sgd_challenge)
def test_sgd_weight_decay(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    start, steps = _start(challenge), _steps(challenge)
    lr, momentum, decay = challenge["lr"], challenge["momentum"], challenge["weight_decay"]
    expected = _sgd(start, steps, lr, decay=decay)
    what = f"SGD(lr={lr}, weight_decay={decay}) (grad + weight_decay * p in place of grad)"
    got = _history(artefacts, "decay", expected, what)
    hyper = {"lr": lr, "weight_decay": decay}
    _unless(_matches(got, _sgd(start, steps, lr), start), f"{what} ignored weight_decay", got, expected, start, hyper,
            steps)
    _require(got, expected, start, what, hyper, steps)
    expected = _sgd(start, steps, lr, momentum=momentum, decay=decay)
    what = (f"SGD(lr={lr}, momentum={momentum}, weight_decay={decay}) (the decayed gradient goes into the "
            f"velocity)")
    _require(_history(artefacts, "decay_momentum", expected, what), expected, start, what,
             {"lr": lr, "momentum": momentum, "weight_decay": decay}, steps)


def _adam_settings(challenge: dict[str, Any], decay: bool = False) -> dict[str, Any]:
    settings = {"lr": challenge["lr"], "betas": [challenge["beta1"], challenge["beta2"]], "eps": challenge["eps"]}
    return settings | ({"weight_decay": challenge["weight_decay"]} if decay else {})


def _adam_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {**_adam_constants(r), "weight_decay": float(np.round(r.uniform(0.05, 0.3), 3)), **_problem(r, steps=3)}


@check(module=6, challenge=_adam_challenge)
def test_adam_bias_correction(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    start, steps = _start(challenge), _steps(challenge)
    expected = _adam(start, steps, challenge)
    what = f"Adam(lr={challenge['lr']}, betas=({challenge['beta1']}, {challenge['beta2']}))"
    got = _history(artefacts, "history", expected, what)
    if _matches(got, expected, start):
        return
    if _matches(got, _adam(start, steps, challenge, corrected=False), start):
        factor = (1 - challenge["beta1"]) / np.sqrt(1 - challenge["beta2"])
        _unless(True, f"{what} has no bias correction: its first step moved each weight by about {factor:.2f} * lr "
                f"instead of lr; use m / (1 - beta1^t) and v / (1 - beta2^t) with t counted from 1", got, expected,
                start, _adam_settings(challenge), steps)
    _require(got, expected, start, what + " (m_hat / (sqrt(v_hat) + eps), bias-corrected)", _adam_settings(challenge),
             steps)


@check(module=6, challenge=_adam_challenge)
def test_adam_weight_decay_l2(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    start, steps, decay = _start(challenge), _steps(challenge), challenge["weight_decay"]
    expected = _adam(start, steps, challenge, decay=decay, mode="l2")
    what = f"Adam(lr={challenge['lr']}, weight_decay={decay})"
    got = _history(artefacts, "history", expected, what)
    if _matches(got, expected, start):
        return
    hyper = _adam_settings(challenge, decay=True)
    _unless(_matches(got, _adam(start, steps, challenge), start), f"{what} ignored weight_decay", got, expected,
            start, hyper, steps)
    _unless(any(_matches(got, _adam(start, steps, challenge, decay, mode), start) for mode in ("before", "after")),
            f"{what} decays the weights directly, which is AdamW; Adam's weight_decay is L2: add weight_decay * p to "
            f"the gradient before updating the moments", got, expected, start, hyper, steps)
    _require(got, expected, start, what + " (L2: grad + weight_decay * p feeds the moments)", hyper, steps)


@check(module=6, challenge=_adam_challenge)
def test_adamw_decoupled_decay(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    start, steps, decay = _start(challenge), _steps(challenge), challenge["weight_decay"]
    decoupled = {mode: _adam(start, steps, challenge, decay, mode) for mode in ("before", "after")}
    what = f"AdamW(lr={challenge['lr']}, weight_decay={decay})"
    got = _history(artefacts, "history", decoupled["before"], what)
    if any(_matches(got, expected, start) for expected in decoupled.values()):
        return
    hyper, expected = _adam_settings(challenge, decay=True), decoupled["before"]
    _unless(_matches(got, _adam(start, steps, challenge), start), f"{what} ignored weight_decay", got, expected,
            start, hyper, steps)
    _unless(_matches(got, _adam(start, steps, challenge, decay, "l2"), start),
            f"{what} adds the decay to the gradient (Adam's L2, which the moments then rescale); AdamW decays the "
            f"weights directly: p -= lr * weight_decay * p, apart from the Adam update", got, expected, start, hyper,
            steps)
    _require(got, expected, start, what + " (Adam update plus p -= lr * weight_decay * p)", hyper, steps)


def _zero_grad_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"lr": 0.01, **_problem(r, steps=2)}


@check(module=6, challenge=_zero_grad_challenge)
def test_zero_grad_clears(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    first, second = _steps(challenge)
    for name in ("SGD", "Adam"):
        before, cleared, after = (artefacts[f"{name}_{k}"] for k in ("before", "cleared", "next"))
        for i, (grad, g1, g2) in enumerate(zip(before, first, second, strict=True)):
            got = expect.array({"g": grad}, "g", shape=g1.shape, what=f"parameter {i}'s grad after backward()")
            expect.close(got, g1, f"parameter {i}'s grad after backward() of sum(p * g)", rtol=1e-6, atol=1e-7,
                         given={"g": g1})
            kept = cleared[i]
            if not (kept is None or (isinstance(kept, np.ndarray) and not np.any(kept))):
                raise CheckFailed(f"{name}.zero_grad() left parameter {i}'s gradient in place: set each parameter's "
                                  f"grad to None (or zeros), or every step adds the gradients of all earlier batches",
                                  example=expect.example(np.zeros_like(g1), kept, {"grad before zero_grad()": g1}))
            got = expect.array({"g": after[i]}, "g", shape=g2.shape,
                               what=f"parameter {i}'s grad after zero_grad() and a new backward()")
            expect.close(got, g2, f"parameter {i}'s grad after {name}.zero_grad() and a new backward() (only the new "
                         f"gradient must remain)", rtol=1e-6, atol=1e-7, given={"g of the first backward": g1,
                                                                                 "g of the new backward": g2})


def _skip_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {**_adam_constants(r), "momentum": float(np.round(r.uniform(0.5, 0.95), 3)),
            "weight_decay": float(np.round(r.uniform(0.05, 0.3), 3)), **_problem(r, steps=3, count=3)}


@check(module=6, challenge=_skip_challenge)
def test_step_skips_params_without_grad(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    start, steps, decay = _start(challenge), _steps(challenge, used=-1), challenge["weight_decay"]
    expected = {
        "SGD": [_sgd(start[:-1], steps, challenge["lr"], momentum=challenge["momentum"], decay=decay)],
        "Adam": [_adam(start[:-1], steps, challenge)],
        "AdamW": [_adam(start[:-1], steps, challenge, decay, mode) for mode in ("before", "after")],
    }
    for name, candidates in expected.items():
        final = artefacts[name]
        expect.that(isinstance(final, list) and len(final) == len(start), f"{name}: wrong number of parameters")
        unused = expect.array({"p": final[-1]}, "p", shape=start[-1].shape, what=f"{name}'s parameter without grad")
        expect.that(np.array_equal(unused, start[-1]),
                    f"{name}.step() changed a parameter whose grad is None: skip parameters that took no part in "
                    f"the loss (no gradient, no momentum, no decay)")
        used = [[expect.array({"p": p}, "p", shape=p0.shape, what=f"{name}'s parameter {i}")
                 for i, (p, p0) in enumerate(zip(final[:-1], start[:-1], strict=True))]]
        if not any(_matches(used, [history[-1]], start[:-1]) for history in candidates):
            settings = _adam_settings(challenge, decay=name == "AdamW") if name != "SGD" else \
                {"lr": challenge["lr"], "momentum": challenge["momentum"], "weight_decay": decay}
            _require(used, [candidates[0][-1]], start[:-1], f"{name} with one parameter left without a gradient",
                     settings, steps, final=True)
