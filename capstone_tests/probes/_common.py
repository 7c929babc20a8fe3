"""Helpers every probe uses to read a student's objects without trusting their types."""

from __future__ import annotations

from typing import Any

import numpy as np


def rng(challenge: dict[str, Any], stream: int = 0) -> np.random.Generator:
    return np.random.default_rng([challenge["seed"], stream])


def values(x: Any) -> Any:
    """A Tensor's data (or a plain array / number) as numpy, keeping its dtype; None stays None."""
    if x is None:
        return None
    data = getattr(x, "data", x)
    if isinstance(data, memoryview):
        data = np.asarray(data)
    return np.asarray(data)


def grad_of(x: Any) -> Any:
    """A tensor's gradient as numpy (editions store arrays or Tensors), or None when it has none."""
    grad = getattr(x, "grad", None)
    return None if grad is None else values(grad)


def trainable(parameters: Any) -> list[Any]:
    """The parameter list, each marked requires_grad (one edition leaves it unset)."""
    params = list(parameters)
    for p in params:
        p.requires_grad = True
    return params


def float32(array: Any) -> np.ndarray:
    return np.asarray(array, dtype=np.float32)
