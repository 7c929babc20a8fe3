"""Module 09 (spatial) probes: Conv2d, MaxPool2d and AvgPool2d outputs and gradients on tiny NCHW inputs.

Gradients come from a weighted sum of the output with fixed random weights `upstream(...)` (through
reshape and matmul only), so the gradient that reaches each layer is exactly those weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..boundary.session import RemoteError
from ..resolver import Resolver
from ._common import float32, grad_later, rng, trainable, values, values_later


def upstream(challenge: dict[str, Any], shape: tuple[int, ...]) -> np.ndarray:
    """The gradient the probe sends into a layer's output of this shape (the check rebuilds it)."""
    return float32(rng(challenge, 1).standard_normal(shape))


def weighted_sum(tt: Resolver, t: Any, weights: np.ndarray) -> Any:
    """sum(t * weights) through reshape and the matmul method (the one name every edition tracks)."""
    n = weights.size
    return t.reshape(1, n).matmul(tt.Tensor(float32(weights.reshape(n, 1)))).sum()


def conv_input(challenge: dict[str, Any]) -> np.ndarray:
    return float32(rng(challenge).standard_normal((challenge["n"], challenge["c_in"], challenge["h"],
                                                    challenge["w"])))


def pool_input(challenge: dict[str, Any]) -> np.ndarray:
    return float32(rng(challenge).standard_normal((challenge["n"], challenge["c"], challenge["h"],
                                                    challenge["w"])))


def _conv(tt: Resolver, config: dict[str, Any]) -> Any:
    return tt.Conv2d(config["c_in"], config["c_out"], config["k"], stride=config["stride"],
                     padding=config["padding"])


def _pool(cls: Any, challenge: dict[str, Any]) -> Any:
    if challenge["stride"] is None:
        return cls(challenge["k"])
    return cls(challenge["k"], stride=challenge["stride"])


def test_conv2d_output_shapes(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    outputs = []
    for config in challenge["configs"]:
        x = float32(np.ones((config["n"], config["c_in"], config["h"], config["w"])))
        outputs.append(values_later(_conv(tt, config)(tt.Tensor(x))))
    return {"shapes": [list(out.shape) for out in tt.materialize(outputs)]}


def test_conv2d_values(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    conv = _conv(tt, challenge)
    # A non-zero bias, so that adding it (once per output channel) is part of what is checked.
    conv.bias.data = float32(rng(challenge, 2).standard_normal(challenge["c_out"]))
    out = conv(tt.Tensor(conv_input(challenge)))
    return {"weight": values_later(conv.weight), "bias": values_later(conv.bias), "out": values_later(out)}


def test_conv2d_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    conv = _conv(tt, challenge)
    trainable(conv.parameters())
    x = tt.Tensor(conv_input(challenge), requires_grad=True)
    out = conv(x)
    shape = values(out).shape
    weighted_sum(tt, out, upstream(challenge, shape)).backward()
    return {"out_shape": list(shape), "weight": values_later(conv.weight), "weight_grad": grad_later(conv.weight),
            "bias_grad": grad_later(conv.bias), "x_grad": grad_later(x)}


def test_maxpool2d_values(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"out": values_later(_pool(tt.MaxPool2d, challenge)(tt.Tensor(pool_input(challenge))))}


def test_maxpool2d_gradient_routing(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    x = tt.Tensor(pool_input(challenge), requires_grad=True)
    out = _pool(tt.MaxPool2d, challenge)(x)
    shape = values(out).shape
    weighted_sum(tt, out, upstream(challenge, shape)).backward()
    return {"out_shape": list(shape), "x_grad": grad_later(x)}


def test_avgpool2d_values(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"out": values_later(_pool(tt.AvgPool2d, challenge)(tt.Tensor(pool_input(challenge))))}


def test_avgpool2d_gradient(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    x = tt.Tensor(pool_input(challenge), requires_grad=True)
    out = _pool(tt.AvgPool2d, challenge)(x)
    shape = values(out).shape
    # The course's own AvgPool2d builds no graph; what backward() then does is itself the finding.
    try:
        weighted_sum(tt, out, upstream(challenge, shape)).backward()
        tt.settle()
        error = None
    except Exception as failure:  # the failure is reported to the check as a fact
        error = _error_text(failure)[:300]
    return {"out_shape": list(shape), "x_grad": grad_later(x), "backward_error": error}


def _error_text(error: Exception) -> str:
    """"Type: message" of the student's exception, also when it was raised in the student's process."""
    if isinstance(error, RemoteError):
        return f"{error.failure.type}: {error.failure.message}"
    return f"{type(error).__name__}: {error}"
