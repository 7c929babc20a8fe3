"""Module 03: layers.

`Layer` is the base every model piece shares: `__call__` forwards to `forward`, `parameters()` collects
trainable Tensors (its own and its sub-layers'), and `train()` / `eval()` set the `training` flag that
Dropout reads. Linear is `x @ W + b` with W of shape (in, out), the course's layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .tensor import FLOAT, Tensor

__all__ = ["Dropout", "Layer", "Linear", "Sequential"]


class Layer:
    training: bool = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def parameters(self) -> list[Tensor]:
        """Trainable Tensors held in attributes, then those of sub-layers, in attribute order, once each."""
        found: list[Tensor] = []
        seen: set[int] = set()
        for value in _walk(vars(self).values()):
            candidates = [value] if isinstance(value, Tensor) else value.parameters()
            for param in candidates:
                if param.requires_grad and id(param) not in seen:
                    seen.add(id(param))
                    found.append(param)
        return found

    def train(self, mode: bool = True) -> Layer:
        self.training = mode
        for value in _walk(vars(self).values()):
            if isinstance(value, Layer):
                value.train(mode)
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _walk(values: Any) -> Iterator[Any]:
    """Tensors and layers among attribute values, looking one level into lists, tuples and dicts."""
    for value in values:
        if isinstance(value, (list, tuple)):
            yield from _walk(value)
        elif isinstance(value, dict):
            yield from _walk(value.values())
        elif isinstance(value, Tensor) or (
                not isinstance(value, type) and callable(getattr(value, "parameters", None))):
            yield value


class Linear(Layer):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        self.in_features = in_features
        self.out_features = out_features
        # LeCun/He-style scale: keeps the output variance near the input's, so deep stacks neither
        # explode nor vanish at initialisation.
        scale = np.sqrt(1.0 / in_features)
        weight = (np.random.randn(in_features, out_features) * scale).astype(FLOAT)
        self.weight = Tensor(weight, requires_grad=True)
        self.bias = Tensor(np.zeros(out_features, dtype=FLOAT), requires_grad=True) if bias else None

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        out = x @ self.weight
        return out + self.bias if self.bias is not None else out

    def parameters(self) -> list[Tensor]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None})"


class Dropout(Layer):
    """Inverted dropout: survivors are scaled by 1/(1-p) in training, so inference is the identity."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Any, training: bool | None = None) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        training = self.training if training is None else training
        if not training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        keep = np.random.random(x.shape) >= self.p
        mask = keep.astype(FLOAT) * FLOAT(1.0 / (1.0 - self.p))
        return x * Tensor(mask)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Sequential(Layer):
    def __init__(self, *layers: Any) -> None:
        # Later editions pass one list; accept both spellings.
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers = list(layers)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Any:
        return self.layers[index]

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential({inner})"
