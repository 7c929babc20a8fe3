"""Module 01: Tensor, with its autograd primitives.

Each primitive keeps its forward and its backward side by side: the forward computes a numpy array and
hands `Tensor.from_op` a closure that maps the output's gradient to one gradient per parent (tinygrad's
`function.py` shape). `backward()` walks the graph in topological order and *adds* each parent's share,
so a tensor used twice receives the sum. Broadcasting is undone in one place (`_unbroadcast`), never in
an op. Everything is float32; a gradient that arrives in another dtype is cast back on accumulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

FLOAT = np.float32
Backward = Callable[[np.ndarray], Sequence["np.ndarray | None"]]

_grad_enabled = True


@contextmanager
def no_grad() -> Iterator[None]:
    """Build no graph inside the block (inference, optimizer updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


def _float32(data: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    array = np.asarray(data)
    if array.dtype != FLOAT:
        if array.dtype == object:
            raise TypeError("Tensor data must be numeric; got an object array")
        array = array.astype(FLOAT)
    return array


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient back to the shape of the operand that numpy broadcast."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _as_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


class Tensor:
    # Lets `np.float32(2) * t` reach Tensor.__rmul__ instead of numpy building an object array.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        self.data: np.ndarray = _float32(data)
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Backward | None = None

    @staticmethod
    def from_op(data: np.ndarray, parents: Sequence[Tensor], backward: Backward) -> Tensor:
        """The result of a primitive: records parents and backward only when a gradient can flow."""
        out = Tensor(data)
        if _grad_enabled and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents = tuple(parents)
            out._backward = backward
        return out

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return float(self.data.reshape(-1)[0]) if self.data.size == 1 else float(self.data)

    @property
    def _grad_fn(self) -> Backward | None:
        """The backward of the op that made this tensor; None for a leaf or outside the graph.

        The course (like PyTorch's `grad_fn`) checks that a layer's output is wired into the graph
        through this name, and its tests read the op from the type's name (see core.spatial).
        """
        return self._backward

    def detach(self) -> Tensor:
        return Tensor(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{flag})"

    # ------------------------------------------------------------------ autograd
    def backward(self, grad: Any = None) -> None:
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() needs a gradient for a non-scalar of shape {self.shape}")
            grad = np.ones_like(self.data)
        pending: dict[int, np.ndarray] = {id(self): _float32(grad).reshape(self.shape)}
        for node in reversed(self._topological_order()):
            node_grad = pending.pop(id(node), None)
            if node_grad is None:
                continue
            if node._backward is None:
                node._accumulate(node_grad)
                continue
            for parent, parent_grad in zip(node._parents, node._backward(node_grad), strict=True):
                if parent_grad is None or not parent.requires_grad:
                    continue
                parent_grad = _unbroadcast(parent_grad, parent.shape)
                key = id(parent)
                pending[key] = pending[key] + parent_grad if key in pending else parent_grad

    def _accumulate(self, grad: np.ndarray) -> None:
        if self.grad is None:
            self.grad = np.array(grad, dtype=FLOAT)
        else:
            self.grad += grad

    def _topological_order(self) -> list[Tensor]:
        # Iterative DFS: deep networks would overflow Python's recursion limit.
        order: list[Tensor] = []
        seen: set[int] = {id(self)}
        stack: list[tuple[Tensor, Iterator[Tensor]]] = [(self, iter(self._parents))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if id(parent) not in seen and parent.requires_grad:
                    seen.add(id(parent))
                    stack.append((parent, iter(parent._parents)))
                    break
            else:
                stack.pop()
                order.append(node)
        return order

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Tensor:
        other = _as_tensor(other)
        return Tensor.from_op(self.data + other.data, (self, other), lambda g: (g, g))

    def __sub__(self, other: Any) -> Tensor:
        other = _as_tensor(other)
        return Tensor.from_op(self.data - other.data, (self, other), lambda g: (g, -g))

    def __mul__(self, other: Any) -> Tensor:
        other = _as_tensor(other)
        a, b = self.data, other.data
        return Tensor.from_op(a * b, (self, other), lambda g: (g * b, g * a))

    def __truediv__(self, other: Any) -> Tensor:
        other = _as_tensor(other)
        a, b = self.data, other.data
        return Tensor.from_op(a / b, (self, other), lambda g: (g / b, -g * a / (b * b)))

    def __neg__(self) -> Tensor:
        return Tensor.from_op(-self.data, (self,), lambda g: (-g,))

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor):
            raise TypeError("only a number exponent is supported")
        exponent = float(exponent)  # an np.float64 exponent would promote forward and backward to float64
        a = self.data
        return Tensor.from_op(a**exponent, (self,), lambda g: (g * exponent * a ** (exponent - 1),))

    def __radd__(self, other: Any) -> Tensor:
        return _as_tensor(other) + self

    def __rsub__(self, other: Any) -> Tensor:
        return _as_tensor(other) - self

    def __rmul__(self, other: Any) -> Tensor:
        return _as_tensor(other) * self

    def __rtruediv__(self, other: Any) -> Tensor:
        return _as_tensor(other) / self

    def matmul(self, other: Any) -> Tensor:
        other = _as_tensor(other)
        a, b = self.data, other.data
        if a.ndim == 1 or b.ndim == 1:
            # Vectors become one-row / one-column matrices, so the matrix rule below serves every case.
            left = self.reshape(1, -1) if a.ndim == 1 else self
            right = other.reshape(-1, 1) if b.ndim == 1 else other
            result = left.matmul(right)
            shape = result.shape[:-2] + (() if a.ndim == 1 else result.shape[-2:-1]) + \
                (() if b.ndim == 1 else result.shape[-1:])
            return result.reshape(shape)

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            # Skip the product nobody needs: for a first layer, the input's gradient is as costly as
            # the weight's.
            grad_a = g @ np.swapaxes(b, -1, -2) if self.requires_grad else None
            grad_b = np.swapaxes(a, -1, -2) @ g if other.requires_grad else None
            return grad_a, grad_b

        return Tensor.from_op(a @ b, (self, other), backward)

    __matmul__ = matmul

    def __rmatmul__(self, other: Any) -> Tensor:
        return _as_tensor(other).matmul(self)

    # ---------------------------------------------------------------- elementwise
    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * out,))

    def log(self) -> Tensor:
        a = self.data
        return Tensor.from_op(np.log(a), (self,), lambda g: (g / a,))

    def sqrt(self) -> Tensor:
        out = np.sqrt(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * 0.5 / out,))

    def relu(self) -> Tensor:
        a = self.data
        return Tensor.from_op(np.maximum(a, 0), (self,), lambda g: (g * (a > 0),))

    def sigmoid(self) -> Tensor:
        # exp of a non-positive number only, so large |x| neither overflows nor warns.
        a = self.data
        e = np.exp(-np.abs(a))
        out = np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(FLOAT)
        return Tensor.from_op(out, (self,), lambda g: (g * out * (1 - out),))

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * (1 - out * out),))

    def gelu(self) -> Tensor:
        """GELU, tanh approximation (the course's formula)."""
        a = self.data
        c = FLOAT(np.sqrt(2 / np.pi))
        inner = np.tanh(c * (a + FLOAT(0.044715) * a * a * a))
        out = 0.5 * a * (1 + inner)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            d_inner = (1 - inner * inner) * c * (1 + FLOAT(3 * 0.044715) * a * a)
            return (g * (0.5 * (1 + inner) + 0.5 * a * d_inner),)

        return Tensor.from_op(out, (self,), backward)

    # ----------------------------------------------------------------- reductions
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        shape = self.shape

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, shape),)

        return Tensor.from_op(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        axes = range(self.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
        count = math.prod(self.shape[a] for a in axes)
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        a = self.data
        kept = a.max(axis=axis, keepdims=True)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            winners = a == kept
            # Ties share the gradient, so it still sums to g.
            # dtype=FLOAT: an int64 count would promote the gradient to float64.
            return (g * winners / winners.sum(axis=axis, keepdims=True, dtype=FLOAT),)

        out = kept if keepdims else a.max(axis=axis)
        return Tensor.from_op(out, (self,), backward)

    # ------------------------------------------------------------------ structure
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        original = self.shape
        return Tensor.from_op(self.data.reshape(shape), (self,), lambda g: (g.reshape(original),))

    view = reshape

    def transpose(self, dim0: int | None = None, dim1: int | None = None) -> Tensor:
        """Swap two axes; with no arguments, the last two (the course's convention)."""
        if self.ndim < 2:
            return self
        if dim0 is None or dim1 is None:
            dim0, dim1 = -2, -1
        return Tensor.from_op(np.swapaxes(self.data, dim0, dim1), (self,),
                              lambda g: (np.swapaxes(g, dim0, dim1),))

    def permute(self, *axes: int) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        inverse = np.argsort(axes)
        return Tensor.from_op(np.transpose(self.data, axes), (self,), lambda g: (np.transpose(g, inverse),))

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __getitem__(self, key: Any) -> Tensor:
        key = _index(key)
        shape = self.shape
        advanced = _is_advanced(key)

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            full = np.zeros(shape, dtype=FLOAT)
            if advanced:
                np.add.at(full, key, g)  # repeated indices must add, not overwrite
            else:
                full[key] = g
            return (full,)

        return Tensor.from_op(self.data[key], (self,), backward)


def _index(key: Any) -> Any:
    """Tensors used as indices become integer arrays."""
    if isinstance(key, Tensor):
        return key.data.astype(np.int64)
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, list):
        return np.asarray(key, dtype=np.int64)
    return key


def _is_advanced(key: Any) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, np.ndarray) for k in parts)


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    sizes = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return Tensor.from_op(np.concatenate([t.data for t in tensors], axis=axis), tensors,
                          lambda g: tuple(np.split(g, sizes, axis=axis)))
