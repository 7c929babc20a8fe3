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


class Activation:
    """A student's activation with an empty `parameters()`: the contract does not promise activations have
    one, but profilers that walk `model.layers` call it on every layer."""

    def __init__(self, activation: Any) -> None:
        self.activation = activation

    def forward(self, x: Any) -> Any:
        return self.activation(x)

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def parameters(self) -> list[Any]:
        return []


class Stack:
    """A model object with both `.layers` and `parameters()`, the form the course's tools walk."""

    def __init__(self, layers: list[Any]) -> None:
        self.layers = layers

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for p in layer.parameters()]

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def __call__(self, x: Any) -> Any:
        return self.forward(x)
