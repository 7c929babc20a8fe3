"""Module 02: activations.

Each activation is a thin object over a Tensor primitive (the primitive owns the backward). Softmax is
not a primitive: it is composed from subtraction, exp, sum and division, so its gradient comes for free.
"""

from __future__ import annotations

from typing import Any

from .tensor import Tensor

__all__ = ["GELU", "ReLU", "Sigmoid", "Softmax", "Tanh", "softmax"]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def softmax(x: Any, dim: int = -1) -> Tensor:
    """Softmax along `dim`, stable for logits of any magnitude.

    Subtracting the row max makes every exponent <= 0, so exp cannot overflow. The max is a constant
    (no gradient): softmax is invariant to the shift, so the true gradient through it is zero anyway.
    """
    x = _tensor(x)
    shifted = x - Tensor(x.data.max(axis=dim, keepdims=True))
    exps = shifted.exp()
    return exps / exps.sum(axis=dim, keepdims=True)


class Activation:
    """Callable with no parameters; `parameters()` lets containers treat it like any layer."""

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.forward(*args, **kwargs)

    def parameters(self) -> list[Tensor]:
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(Activation):
    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).relu()


class Sigmoid(Activation):
    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).sigmoid()


class Tanh(Activation):
    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).tanh()


class GELU(Activation):
    """Tanh approximation of GELU, as in the course."""

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x).gelu()


class Softmax(Activation):
    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def forward(self, x: Tensor, dim: int | None = None) -> Tensor:
        return softmax(x, self.dim if dim is None else dim)
