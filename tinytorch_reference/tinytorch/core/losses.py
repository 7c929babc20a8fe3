"""Module 04: losses.

Every loss is composed from Tensor primitives and carries no backward code of its own. Each returns a
0-d Tensor (the mean over the batch).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["BinaryCrossEntropyLoss", "CrossEntropyLoss", "MSELoss", "log_softmax"]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _targets_like(predictions: Tensor, targets: Any) -> Tensor:
    """Targets as a constant Tensor of the predictions' shape.

    (N, 1) predictions against (N,) targets would otherwise broadcast to (N, N): a silent, classic bug.
    """
    targets = Tensor(targets.data if isinstance(targets, Tensor) else targets)
    if targets.shape != predictions.shape and targets.size == predictions.size:
        targets = Tensor(targets.data.reshape(predictions.shape))
    return targets


def log_softmax(x: Any, dim: int = -1) -> Tensor:
    """log(softmax(x)) as (x - c) - log(sum(exp(x - c))) with c the row max, a constant.

    After the shift every exponent is <= 0 and the sum is >= 1, so neither exp nor log can overflow,
    even for logits of magnitude 1e4. The shift carries no gradient: the result does not depend on it.
    """
    x = _tensor(x)
    shifted = x - Tensor(x.data.max(axis=dim, keepdims=True))
    return shifted - shifted.exp().sum(axis=dim, keepdims=True).log()


class Loss:
    def forward(self, predictions: Any, targets: Any) -> Tensor:
        raise NotImplementedError

    def __call__(self, predictions: Any, targets: Any) -> Tensor:
        return self.forward(predictions, targets)


class MSELoss(Loss):
    def forward(self, predictions: Any, targets: Any) -> Tensor:
        predictions = _tensor(predictions)
        diff = predictions - _targets_like(predictions, targets)
        return (diff * diff).mean()


class CrossEntropyLoss(Loss):
    """Mean negative log-likelihood of integer class targets under softmax(logits)."""

    def forward(self, logits: Any, targets: Any) -> Tensor:
        logits = _tensor(logits)
        if logits.ndim != 2:
            # (B, S, C) sequence logits: every position is one more sample.
            logits = logits.reshape(-1, logits.shape[-1])
        labels = np.asarray(targets.data if isinstance(targets, Tensor) else targets).reshape(-1)
        labels = labels.astype(np.int64)
        if labels.shape[0] != logits.shape[0]:
            raise ValueError(f"{logits.shape[0]} rows of logits but {labels.shape[0]} targets")
        picked = log_softmax(logits, dim=-1)[np.arange(labels.shape[0]), labels]
        return -picked.mean()


class BinaryCrossEntropyLoss(Loss):
    """BCE on probabilities (not logits), clipped to [eps, 1 - eps] so log never sees 0."""

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = eps

    def forward(self, predictions: Any, targets: Any) -> Tensor:
        predictions = _tensor(predictions)
        targets = _targets_like(predictions, targets)
        # Clip by adding a constant: the value is clipped, the gradient passes straight through (a
        # saturated prediction still learns), and 1/p in log's backward stays finite.
        data = predictions.data
        offset = np.clip(data, self.eps, 1.0 - self.eps) - data
        p = predictions + Tensor(offset)
        y = targets
        log_likelihood = y * p.log() + Tensor(1.0 - y.data) * (1.0 - p).log()
        return -log_likelihood.mean()
