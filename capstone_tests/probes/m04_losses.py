"""Module 04 (losses) probes: loss values, log_softmax's stability, and the gradients losses send back."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_later, values_later


def _labels(tt: Resolver, challenge: dict[str, Any]) -> Any:
    return tt.Tensor(np.asarray(challenge["labels"], dtype=np.int64))


def test_mse_value(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    loss_fn = tt.MSELoss()
    predictions, targets = tt.Tensor(float32(challenge["predictions"])), tt.Tensor(float32(challenge["targets"]))
    return {"called": values_later(loss_fn(predictions, targets)),
            "forward": values_later(loss_fn.forward(predictions, targets))}


def test_cross_entropy_value(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    loss = tt.CrossEntropyLoss()(tt.Tensor(float32(challenge["logits"])), _labels(tt, challenge))
    return {"loss": values_later(loss)}


def test_bce_value(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    probabilities, targets = tt.Tensor(float32(challenge["probabilities"])), tt.Tensor(float32(challenge["targets"]))
    return {"loss": values_later(tt.BinaryCrossEntropyLoss()(probabilities, targets))}


def test_log_softmax_stable(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    log_softmax = tt.log_softmax
    return {
        "moderate": values_later(log_softmax(tt.Tensor(float32(challenge["moderate"])))),
        "large": values_later(log_softmax(tt.Tensor(float32(challenge["large"])))),
    }


def test_cross_entropy_large_logits(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    loss = tt.CrossEntropyLoss()(tt.Tensor(float32(challenge["logits"])), _labels(tt, challenge))
    return {"loss": values_later(loss)}


def test_cross_entropy_gradient(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    logits = tt.Tensor(float32(challenge["logits"]), requires_grad=True)
    loss = tt.CrossEntropyLoss()(logits, _labels(tt, challenge))
    loss.backward()
    return {"loss": values_later(loss), "grad": grad_later(logits)}


def test_mse_bce_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    predictions = tt.Tensor(float32(challenge["predictions"]), requires_grad=True)
    tt.MSELoss()(predictions, tt.Tensor(float32(challenge["targets"]))).backward()
    probabilities = tt.Tensor(float32(challenge["probabilities"]), requires_grad=True)
    tt.BinaryCrossEntropyLoss()(probabilities, tt.Tensor(float32(challenge["labels01"]))).backward()
    return {"mse_grad": grad_later(predictions), "bce_grad": grad_later(probabilities)}
