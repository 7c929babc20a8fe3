"""Module 04 (losses) checks: values and gradients against float64 formulas."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import check
from ..verdict import CheckFailed
from . import expect


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _numbers(r: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> list:
    return np.round(r.standard_normal(shape) * scale, 3).tolist()


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _cross_entropy(logits: np.ndarray, labels: list[int]) -> float:
    return float(-_log_softmax(logits)[np.arange(len(labels)), labels].mean())


def _require_finite(artefacts: dict[str, Any], key: str, message: str, expected: Any,
                    given: dict[str, Any]) -> None:
    raw = artefacts.get(key)
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "f" and not np.all(np.isfinite(raw)):
        focus = tuple(int(i) for i in np.argwhere(~np.isfinite(raw))[0]) if raw.ndim else None
        raise CheckFailed(message, example=expect.example(expected, raw, given, focus))


def _loss(artefacts: dict[str, Any], key: str, expected: float, what: str, rtol: float = 1e-5,
          atol: float = 1e-6, given: dict[str, Any] | None = None) -> None:
    got = expect.number(artefacts, key, what=what)
    expect.close(np.asarray(got), np.asarray(expected), what, rtol=rtol, atol=atol, given=given)


def _classification(r: np.random.Generator, scale: float) -> tuple[list, list[int]]:
    n, classes = int(r.integers(2, 7)), int(r.integers(2, 6))
    return _numbers(r, (n, classes), scale), [int(v) for v in r.integers(0, classes, n)]


def _mse_challenge(r: np.random.Generator) -> dict[str, Any]:
    shape = (int(r.integers(2, 7)), int(r.integers(1, 4)))
    return {"predictions": _numbers(r, shape), "targets": _numbers(r, shape)}


@check(module=4, challenge=_mse_challenge)
def test_mse_value(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    p, y = _f32(challenge["predictions"]), _f32(challenge["targets"])
    expected = float(((p - y) ** 2).mean())
    given = {"predictions": p, "targets": y}
    _loss(artefacts, "called", expected, f"MSELoss()(predictions, targets) for shape {p.shape} (mean of the squared "
          f"differences over all elements)", given=given)
    _loss(artefacts, "forward", expected, "MSELoss().forward(predictions, targets)", given=given)


def _cross_entropy_challenge(r: np.random.Generator) -> dict[str, Any]:
    logits, labels = _classification(r, 2.0)
    return {"logits": logits, "labels": labels}


@check(module=4, challenge=_cross_entropy_challenge)
def test_cross_entropy_value(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    logits = _f32(challenge["logits"])
    _loss(artefacts, "loss", _cross_entropy(logits, challenge["labels"]),
          f"CrossEntropyLoss for logits {logits.shape} and class indices {challenge['labels']} (mean over the batch "
          f"of -log softmax(logits)[target])", given={"logits": logits, "labels": challenge["labels"]})


def _bce_challenge(r: np.random.Generator) -> dict[str, Any]:
    n = int(r.integers(3, 9))
    return {"probabilities": np.round(r.uniform(0.02, 0.98, (n, 1)), 3).tolist(),
            "targets": r.integers(0, 2, (n, 1)).astype(float).tolist()}


@check(module=4, challenge=_bce_challenge)
def test_bce_value(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    p, y = _f32(challenge["probabilities"]), _f32(challenge["targets"])
    expected = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
    _loss(artefacts, "loss", expected, "BinaryCrossEntropyLoss on probabilities (not logits): "
          "mean of -(y log p + (1 - y) log(1 - p))", given={"probabilities": p, "targets": y})


def _log_softmax_challenge(r: np.random.Generator) -> dict[str, Any]:
    rows, cols = int(r.integers(2, 5)), int(r.integers(3, 7))
    large = np.round(r.uniform(-1.0, 1.0, (rows, cols)) * 1e4, 2)
    large[0] = np.round(1e4 + r.uniform(-5.0, 5.0, cols), 2)  # every exp overflows without the shift
    return {"moderate": _numbers(r, (rows, cols), 2.0), "large": large.tolist()}


@check(module=4, challenge=_log_softmax_challenge)
def test_log_softmax_stable(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    moderate, large = _f32(challenge["moderate"]), _f32(challenge["large"])
    got = expect.array(artefacts, "moderate", shape=moderate.shape, what="log_softmax(x)")
    expect.close(got, _log_softmax(moderate), "log_softmax(x) along the last axis", rtol=1e-5, atol=1e-5,
                 given={"x": moderate})
    _require_finite(artefacts, "large", "log_softmax of logits of magnitude 1e4 gives NaN or infinity: compute "
                    "(x - max) - log(sum(exp(x - max))) with the row max, never log(softmax(x))",
                    _log_softmax(large), {"x": large})
    got = expect.array(artefacts, "large", shape=large.shape, what="log_softmax(x) for logits of magnitude 1e4")
    expect.close(got, _log_softmax(large), "log_softmax(x) for logits of magnitude 1e4", rtol=1e-5, atol=1e-3,
                 given={"x": large})


def _large_logits_challenge(r: np.random.Generator) -> dict[str, Any]:
    logits, labels = _classification(r, 1.0)
    scaled = np.clip(np.asarray(logits) / 3.0, -1.0, 1.0) * 1e4
    return {"logits": np.round(scaled, 2).tolist(), "labels": labels}


@check(module=4, challenge=_large_logits_challenge)
def test_cross_entropy_large_logits(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    logits = _f32(challenge["logits"])
    given = {"logits": logits, "labels": challenge["labels"]}
    expected = _cross_entropy(logits, challenge["labels"])
    _require_finite(artefacts, "loss", "CrossEntropyLoss of logits of magnitude 1e4 is NaN or infinity: compute it "
                    "from a stable log_softmax (subtract the row max before exp), not from log(softmax)",
                    expected, given)
    _loss(artefacts, "loss", expected, "CrossEntropyLoss for logits of magnitude 1e4", rtol=1e-5, atol=1e-3,
          given=given)


@check(module=4, challenge=_cross_entropy_challenge)
def test_cross_entropy_gradient(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    logits, labels = _f32(challenge["logits"]), challenge["labels"]
    n = len(labels)
    onehot = np.eye(logits.shape[1])[labels]
    expected = (np.exp(_log_softmax(logits)) - onehot) / n
    if artefacts.get("grad") is None:
        raise CheckFailed("the logits got no gradient from CrossEntropyLoss: build the loss from Tensor operations "
                          "(or attach a backward) instead of computing it on .data")
    got = expect.array(artefacts, "grad", what="the gradient of CrossEntropyLoss with respect to the logits")
    expect.that(got.shape == expected.shape, f"the logits' gradient has shape {got.shape}, expected {expected.shape}")
    expect.close(got, expected, f"the gradient of CrossEntropyLoss with respect to the logits (expected "
                 f"(softmax - onehot) / N with N = {n})", rtol=1e-4, atol=1e-6,
                 given={"logits": logits, "labels": labels})


def _mse_bce_challenge(r: np.random.Generator) -> dict[str, Any]:
    challenge = _mse_challenge(r)
    challenge.update({"probabilities": np.round(r.uniform(0.05, 0.95, (int(r.integers(3, 9)), 1)), 3).tolist()})
    challenge["labels01"] = r.integers(0, 2, (len(challenge["probabilities"]), 1)).astype(float).tolist()
    return challenge


@check(module=4, challenge=_mse_bce_challenge)
def test_mse_bce_gradients(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    p, y = _f32(challenge["predictions"]), _f32(challenge["targets"])
    q, t = _f32(challenge["probabilities"]), _f32(challenge["labels01"])
    for key, expected, name, formula, given in (
        ("mse_grad", 2.0 * (p - y) / p.size, "MSELoss", "2 (p - y) / number of elements",
         {"predictions": p, "targets": y}),
        ("bce_grad", (q - t) / (q * (1 - q)) / q.size, "BinaryCrossEntropyLoss", "(p - y) / (p (1 - p)) / N",
         {"probabilities": q, "targets": t}),
    ):
        if artefacts.get(key) is None:
            raise CheckFailed(f"the predictions got no gradient from {name}: build the loss from Tensor operations "
                              f"(or attach a backward) instead of computing it on .data")
        got = expect.array(artefacts, key, what=f"the gradient of {name} with respect to its predictions")
        expect.that(got.shape == expected.shape,
                    f"the gradient of {name} has shape {got.shape}, expected {expected.shape}")
        expect.close(got, expected, f"the gradient of {name} with respect to its predictions (expected {formula})",
                     rtol=1e-4, atol=1e-5, given=given)
