"""What the harness may build or ask for inside the student's process, beside the student's own objects.

Two kinds, both plain and verdict-free (a student who reads this file learns nothing about any check):
- *containers* a probe hands to the student's code, which calls back into them (a model with `.layers` and
  `parameters()` for pruning, a counting model for the profiler, ...). They must live where the student's code
  runs, because nothing but data crosses the boundary.
- *views*: small functions that read a student's object the same way in both forms of the suites (`values` of a
  Tensor, whether something is None, a type's name), so one probe reads identically whether its objects are
  local (plain pytest) or remote (the grader).

The object server calls them by name (`HELPERS`); the plain-pytest form calls the same functions directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np


# ------------------------------------------------------------------------------------------------ views
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


def values_copy(x: Any) -> Any:
    """values(x) copied as they are now: later in-place updates of the student's array leave the copy be."""
    found = values(x)
    return None if found is None else found.copy()


def grad_copy(x: Any) -> Any:
    """grad_of(x) copied as it is now (the next backward may add into the same array)."""
    found = grad_of(x)
    return None if found is None else found.copy()


def dtype_name(x: Any) -> str | None:
    """The dtype of values(x) as text ("float32", "object"), or None when x is None."""
    data = values(x)
    return None if data is None else str(data.dtype)


def shape_of(x: Any) -> list[int] | None:
    """The shape of values(x) as a list, or None when x is None."""
    data = values(x)
    return None if data is None else list(data.shape)


def is_none(x: Any) -> bool:
    return x is None


def same(a: Any, b: Any) -> bool:
    return a is b


def type_name(x: Any) -> str:
    return type(x).__name__


def is_instance(x: Any, kind: Any) -> bool:
    """isinstance against a class of the student's, or a builtin named by string ("dict", "list", ...)."""
    if isinstance(kind, str):
        kind = BUILTIN_TYPES[kind]
    return isinstance(kind, type | tuple) and isinstance(x, kind)


BUILTIN_TYPES: dict[str, Any] = {
    "dict": dict, "list": list, "tuple": tuple, "sequence": (list, tuple), "int": int, "float": float,
    "str": str, "bool": bool, "ndarray": np.ndarray, "number": (int, float, np.integer, np.floating),
}


def has(x: Any, name: str) -> bool:
    return hasattr(x, name)


def attr_or_none(x: Any, name: str) -> Any:
    return getattr(x, name, None)


def is_callable(x: Any) -> bool:
    return callable(x)


def to_float(x: Any) -> float:
    return float(x)


def to_int(x: Any) -> int:
    return int(x)


def to_bool(x: Any) -> bool:
    return bool(x)


def length(x: Any) -> int:
    return len(x)


def text(x: Any) -> str:
    return str(x)[:2000]


def as_array(x: Any) -> Any:
    return np.asarray(x)


def plain(x: Any) -> Any:
    """The object itself, to be sent by value (the protocol turns what is not plain data into a description)."""
    return x


def seed_numpy(seed: int) -> None:
    """Seed numpy's global generator where the student's code draws from it (initial weights, shuffling)."""
    np.random.seed(seed)


def as_list(x: Any) -> list[Any]:
    return list(x)


def first(x: Any) -> Any:
    """next(iter(x)): the first item an iterable yields, without drawing the rest."""
    return next(iter(x))


def first_same_index(items: Any) -> list[int]:
    """For each item of a sequence, the index of its first occurrence by identity (`is`): which entries of a
    parameter list are one object."""
    items = list(items)
    return [next(j for j, other in enumerate(items) if other is item) for item in items]


# ------------------------------------------------------------------------------------------------ containers
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
    """A model object with `.layers`, `forward` and `parameters()`, the form the course's tools walk.

    `forward` reads `self.layers` on every call, so layers that quantize_model swaps in place are used; a
    layer of `dropout_type` gets `training=self.training`. `call_layers` calls each layer (`layer(x)`, as
    every Trainer edition's models do) instead of `layer.forward(x)`.
    """

    def __init__(self, layers: list[Any], dropout_type: Any = None, call_layers: bool = False) -> None:
        self.layers = list(layers)
        self.training = True
        self._dropout_type = dropout_type
        self._call_layers = call_layers

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            if self._dropout_type is not None and isinstance(layer, self._dropout_type):
                x = layer.forward(x, training=self.training)
            elif self._call_layers:
                x = layer(x)
            else:
                x = layer.forward(x)
        return x

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def parameters(self) -> list[Any]:
        found: list[Any] = []
        for layer in self.layers:
            get = getattr(layer, "parameters", None)
            if callable(get):
                found.extend(get())
        return found


class CountingModel:
    """Wraps one layer and records each forward pass (how many, and each input's shape), so a check can tell
    whether a profiler or benchmark really ran the model. `name` is what benchmarks report it as."""

    def __init__(self, layer: Any, name: str = "model") -> None:
        self.layer = layer
        self.name = name
        self.calls = 0
        self.input_shapes: list[list[int]] = []

    def forward(self, x: Any) -> Any:
        self.calls += 1
        self.input_shapes.append(list(values(x).shape))
        return self.layer.forward(x)

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def parameters(self) -> list[Any]:
        return self.layer.parameters()


HELPERS: dict[str, Any] = {
    function.__name__: function
    for function in (values, grad_of, values_copy, grad_copy, is_none, same, type_name, is_instance, has,
                     attr_or_none, is_callable,
                     to_float, to_int, to_bool, length, text, as_array, plain, seed_numpy, as_list, first,
                     first_same_index,
                     dtype_name, shape_of,
                     Activation, Stack, CountingModel)
}
