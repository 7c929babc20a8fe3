"""Module 03 (layers) probes: Linear's layout, forward and gradients; Dropout in training and eval."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_later, trainable, values_later, view_later


def _items(iterable: Any) -> list[Any]:
    """list(iterable) in one read: list() of a remote object would first ask its len(), which a generator lacks."""
    return list(iter(iterable))


def _linear(tt: Resolver, weight: Any, bias: Any) -> Any:
    """A Linear whose parameters hold the challenge's numbers (set through `.data`, as optimizers do)."""
    w = float32(weight)
    layer = tt.Linear(w.shape[0], w.shape[1])
    layer.weight.data = w
    layer.bias.data = float32(bias)
    return layer


def test_linear_shapes_and_parameters(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    n_in, n_out = challenge["n_in"], challenge["n_out"]
    layer = tt.Linear(n_in, n_out)
    params = _items(layer.parameters())
    plain = tt.Linear(n_in, n_out, bias=False)
    plain_params = _items(plain.parameters())
    return {
        "weight_shape": values_later(layer.weight).shape,
        "weight_dtype": view_later("dtype_name", layer.weight),
        "bias_shape": view_later("shape_of", layer.bias),  # None when there is no bias
        "parameter_count": len(params),
        "first_is_weight": len(params) > 0 and view_later("same", params[0], layer.weight),
        "second_is_bias": len(params) > 1 and view_later("same", params[1], layer.bias),
        "no_bias_is_none": view_later("is_none", plain.bias),
        "no_bias_parameter_count": len(plain_params),
        "no_bias_first_is_weight": len(plain_params) > 0 and view_later("same", plain_params[0], plain.weight),
    }


def test_linear_forward(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    layer = _linear(tt, challenge["weight"], challenge["bias"])
    x = tt.Tensor(float32(challenge["x"]))
    return {"called": values_later(layer(x)), "forward": values_later(layer.forward(x))}


def test_linear_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    layer = _linear(tt, challenge["weight"], challenge["bias"])
    trainable(_items(layer.parameters()))
    x = tt.Tensor(float32(challenge["x"]), requires_grad=True)
    (layer(x) * tt.Tensor(float32(challenge["c"]))).sum().backward()
    return {"weight_grad": grad_later(layer.weight), "bias_grad": grad_later(layer.bias), "x_grad": grad_later(x)}


def test_two_layer_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    first = _linear(tt, challenge["w1"], challenge["b1"])
    second = _linear(tt, challenge["w2"], challenge["b2"])
    trainable(_items(first.parameters()) + _items(second.parameters()))
    x = tt.Tensor(float32(challenge["x"]))
    out = second(tt.ReLU()(first(x)))
    (out * tt.Tensor(float32(challenge["c"]))).sum().backward()
    return {
        "w1": grad_later(first.weight), "b1": grad_later(first.bias),
        "w2": grad_later(second.weight), "b2": grad_later(second.bias),
    }


def test_linear_init_breaks_symmetry(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.seed_numpy(challenge["numpy_seed"])  # editions draw initial weights from numpy's global RNG
    a = tt.Linear(challenge["n_in"], challenge["n_out"])
    b = tt.Linear(challenge["n_in"], challenge["n_out"])
    return {"a": values_later(a.weight), "b": values_later(b.weight)}


def test_dropout_eval_is_identity(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = tt.Tensor(float32(challenge["x"]))
    return {
        "eval": values_later(tt.Dropout(challenge["p"]).forward(x, training=False)),
        "p_zero_training": values_later(tt.Dropout(0.0).forward(x, training=True)),
    }


def dropout_input(rows: int, cols: int) -> np.ndarray:
    """Inputs that are never 0 (so a 0 in the output means dropped), the same for probe and check."""
    magnitudes = np.linspace(0.5, 2.0, rows * cols).reshape(rows, cols)
    signs = np.where(np.arange(rows * cols).reshape(rows, cols) % 3 == 0, -1.0, 1.0)
    return float32(magnitudes * signs)


def test_dropout_training_scaling(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = dropout_input(challenge["rows"], challenge["cols"])
    tt.seed_numpy(challenge["numpy_seed"])
    dropout = tt.Dropout(challenge["p"])
    first = values_later(dropout.forward(tt.Tensor(x), training=True))
    second = values_later(dropout.forward(tt.Tensor(x), training=True))
    return {"first": first, "second": second}
