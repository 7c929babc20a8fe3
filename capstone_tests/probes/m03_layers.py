"""Module 03 (layers) probes: Linear's layout, forward and gradients; Dropout in training and eval."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_of, trainable, values


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
    params = list(layer.parameters())
    plain = tt.Linear(n_in, n_out, bias=False)
    plain_params = list(plain.parameters())
    return {
        "weight_shape": list(values(layer.weight).shape),
        "weight_dtype": str(values(layer.weight).dtype),
        "bias_shape": None if layer.bias is None else list(values(layer.bias).shape),
        "parameter_count": len(params),
        "first_is_weight": len(params) > 0 and params[0] is layer.weight,
        "second_is_bias": len(params) > 1 and params[1] is layer.bias,
        "no_bias_is_none": plain.bias is None,
        "no_bias_parameter_count": len(plain_params),
        "no_bias_first_is_weight": len(plain_params) > 0 and plain_params[0] is plain.weight,
    }


def test_linear_forward(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    layer = _linear(tt, challenge["weight"], challenge["bias"])
    x = tt.Tensor(float32(challenge["x"]))
    return {"called": values(layer(x)), "forward": values(layer.forward(x))}


def test_linear_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    layer = _linear(tt, challenge["weight"], challenge["bias"])
    trainable(layer.parameters())
    x = tt.Tensor(float32(challenge["x"]), requires_grad=True)
    (layer(x) * tt.Tensor(float32(challenge["c"]))).sum().backward()
    return {"weight_grad": grad_of(layer.weight), "bias_grad": grad_of(layer.bias), "x_grad": grad_of(x)}


def test_two_layer_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    first = _linear(tt, challenge["w1"], challenge["b1"])
    second = _linear(tt, challenge["w2"], challenge["b2"])
    trainable(list(first.parameters()) + list(second.parameters()))
    x = tt.Tensor(float32(challenge["x"]))
    out = second(tt.ReLU()(first(x)))
    (out * tt.Tensor(float32(challenge["c"]))).sum().backward()
    return {
        "w1": grad_of(first.weight), "b1": grad_of(first.bias),
        "w2": grad_of(second.weight), "b2": grad_of(second.bias),
    }


def test_linear_init_breaks_symmetry(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    np.random.seed(challenge["seed"] % 2**32)  # editions draw initial weights from numpy's global RNG
    a = tt.Linear(challenge["n_in"], challenge["n_out"])
    b = tt.Linear(challenge["n_in"], challenge["n_out"])
    return {"a": values(a.weight), "b": values(b.weight)}


def test_dropout_eval_is_identity(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = tt.Tensor(float32(challenge["x"]))
    return {
        "eval": values(tt.Dropout(challenge["p"]).forward(x, training=False)),
        "p_zero_training": values(tt.Dropout(0.0).forward(x, training=True)),
    }


def dropout_input(rows: int, cols: int) -> np.ndarray:
    """Inputs that are never 0 (so a 0 in the output means dropped), the same for probe and check."""
    magnitudes = np.linspace(0.5, 2.0, rows * cols).reshape(rows, cols)
    signs = np.where(np.arange(rows * cols).reshape(rows, cols) % 3 == 0, -1.0, 1.0)
    return float32(magnitudes * signs)


def test_dropout_training_scaling(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = dropout_input(challenge["rows"], challenge["cols"])
    np.random.seed(challenge["seed"] % 2**32)
    dropout = tt.Dropout(challenge["p"])
    first = values(dropout.forward(tt.Tensor(x), training=True))
    second = values(dropout.forward(tt.Tensor(x), training=True))
    return {"first": first, "second": second}
