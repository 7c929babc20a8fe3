"""Finite-difference gradient checking for the reference Tensor.

`check_gradients(fn, inputs)` backpropagates through `fn(*inputs)` and compares every input's `.grad`
with central differences. A non-scalar output is first reduced with fixed random weights, so each output
element receives a different upstream gradient: with a plain `sum()` the upstream gradient is all ones,
which hides wrong-axis bugs (a transpose whose backward forgets to transpose passes a sum-check).

The Tensor computes in float32, so the function is evaluated on float32 data; the differences are taken
in float64, and divided by the step actually taken (x + eps rounded to float32), not by the nominal eps.
Float32 rounding then limits accuracy to about 1e-7 * |f| / eps, which the default tolerances absorb for
functions whose values are O(1..100).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinytorch_reference.tinytorch.core.tensor import Tensor, no_grad


def _scalar(out: Tensor, weights: dict[tuple[int, ...], np.ndarray]) -> Tensor:
    if out.size == 1:
        return out.reshape(()) if out.ndim else out
    if out.shape not in weights:
        rng = np.random.default_rng(1234)
        weights[out.shape] = rng.uniform(0.5, 1.5, out.shape) * rng.choice([-1.0, 1.0], out.shape)
    return (out * Tensor(weights[out.shape])).sum()


def check_gradients(fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-3,
                    rtol: float = 5e-3, atol: float = 1e-3) -> None:
    """Assert that backward() through fn(*inputs) matches central finite differences for every input.

    Every input must be a Tensor with requires_grad=True; fn must be deterministic (no dropout) and
    differentiable at the given point (keep inputs away from kinks of relu/max and from log(0)).
    """
    weights: dict[tuple[int, ...], np.ndarray] = {}
    for t in inputs:
        assert t.requires_grad, "check_gradients: every input needs requires_grad=True"
        t.grad = None
    out = _scalar(fn(*inputs), weights)
    out.backward()

    for position, t in enumerate(inputs):
        assert t.grad is not None, f"input {position} received no gradient"
        analytic = np.asarray(t.grad)
        assert analytic.shape == t.shape, f"input {position}: grad shape {analytic.shape} != {t.shape}"
        assert analytic.dtype == np.float32, f"input {position}: grad dtype {analytic.dtype}"

        original = t.data.copy()
        numeric = np.zeros(t.shape, dtype=np.float64)
        for index in np.ndindex(*t.shape):
            values = []
            for sign in (1.0, -1.0):
                t.data = original.copy()
                t.data[index] = original[index] + sign * eps
                with no_grad():
                    value = float(_scalar(fn(*inputs), weights).data)
                values.append((float(t.data[index]), value))
            (x_plus, f_plus), (x_minus, f_minus) = values
            numeric[index] = (f_plus - f_minus) / (x_plus - x_minus)
        t.data = original

        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {position} (shape {t.shape})")
