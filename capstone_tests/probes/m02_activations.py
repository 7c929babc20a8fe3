"""Module 02 (activations) probes: forward values, Softmax's stability and dim, and gradients.

The gradient probes belong to this module suite only. Tanh's gradient is outside the safe subset
(docs/student-api.md): the course never gives Tanh a backward, so its test is an extra the rubric does not
count by default.
"""

from __future__ import annotations

from typing import Any

from ..boundary.session import RemoteError
from ..resolver import Resolver
from ._common import float32, grad_later, values_later


def _forward_both_ways(activation: Any, x: Any) -> tuple[Any, Any]:
    return values_later(activation(x)), values_later(activation.forward(x))


def test_relu_values(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    called, forward = _forward_both_ways(tt.ReLU(), tt.Tensor(float32(challenge["x"])))
    return {"called": called, "forward": forward}


def test_sigmoid_values(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    called, forward = _forward_both_ways(tt.Sigmoid(), tt.Tensor(float32(challenge["x"])))
    return {"called": called, "forward": forward}


def test_tanh_and_gelu_values(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = tt.Tensor(float32(challenge["x"]))
    return {"tanh": values_later(tt.Tanh()(x)), "gelu": values_later(tt.GELU()(x))}


def test_softmax_rows_sum_to_one(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"softmax": values_later(tt.Softmax()(tt.Tensor(float32(challenge["x"]))))}


def test_softmax_large_logits_stable(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"softmax": values_later(tt.Softmax()(tt.Tensor(float32(challenge["x"]))))}


def test_softmax_dim_argument(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    softmax = tt.Softmax()
    cube = tt.Tensor(float32(challenge["cube"]))
    matrix = tt.Tensor(float32(challenge["matrix"]))
    return {
        "cube_dim1": values_later(softmax.forward(cube, dim=1)),
        "cube_default": values_later(softmax.forward(cube)),
        "matrix_dim0": values_later(softmax.forward(matrix, dim=0)),
    }


def _input_gradient(tt: Resolver, activation: Any, challenge: dict[str, Any]) -> Any:
    """d/dx of sum(activation(x) * c): the activation's backward applied to the upstream gradient c."""
    x = tt.Tensor(float32(challenge["x"]), requires_grad=True)
    (activation(x) * tt.Tensor(float32(challenge["c"]))).sum().backward()
    return grad_later(x)


def _error_type(error: Exception) -> str:
    """The student's exception type, also when it was raised in the student's process (a RemoteError)."""
    return error.failure.type if isinstance(error, RemoteError) else type(error).__name__


def test_tanh_gradient(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    # A backward that fails without Tanh is the autograd's fault: let that error speak for itself.
    _input_gradient(tt, tt.ReLU(), challenge)
    tt.settle()
    try:
        grad = _input_gradient(tt, tt.Tanh(), challenge)
        tt.settle()
        return {"grad": grad, "backward_error": None}
    except Exception as error:  # an edition whose Tanh has no backward may refuse backward() outright
        return {"grad": None, "backward_error": f"{_error_type(error)}: {error}"[:300]}


def test_relu_sigmoid_gelu_softmax_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    return {
        "relu": _input_gradient(tt, tt.ReLU(), challenge),
        "sigmoid": _input_gradient(tt, tt.Sigmoid(), challenge),
        "gelu": _input_gradient(tt, tt.GELU(), challenge),
        "softmax": _input_gradient(tt, tt.Softmax(), challenge),
    }
