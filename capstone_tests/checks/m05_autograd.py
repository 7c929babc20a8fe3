"""Module 05 (autograd) checks: gradients against closed forms and the reference."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..harness import on_reference
from ..probes import m05_autograd as probes
from ..registry import check
from . import expect


@check(module=5, challenge=lambda r: {"w": float(r.integers(-5, 6))})
def test_scalar_chain_rule(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    w = challenge["w"]
    expect.close(expect.array(artefacts, "value", module=5).reshape(-1), [w * w + w], "w*w + w", module=5)
    expect.close(expect.array(artefacts, "grad", what="w.grad", module=5).reshape(-1), [2 * w + 1],
                 "d(w*w + w)/dw", module=5)


@check(module=5, challenge=lambda r: {"rows": int(r.integers(2, 6)), "cols": int(r.integers(2, 6))})
def test_broadcast_gradient(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    expected = on_reference(probes.test_broadcast_gradient, challenge)
    shape = (challenge["rows"], challenge["cols"])
    expect.close(expect.array(artefacts, "x_grad", shape=shape, module=5), expected["x_grad"], "x.grad", module=5)
    b_grad = expect.array(artefacts, "b_grad", module=5)
    expect.that(b_grad.shape == (challenge["cols"],),
                f"the bias gradient has shape {b_grad.shape}: a broadcast operand's gradient must be summed "
                f"back to its own shape ({challenge['cols']},)", module=5)
    expect.close(b_grad, expected["b_grad"], "b.grad (broadcast over rows)", module=5)


@check(module=5, challenge=lambda r: {"n": int(r.integers(2, 5))})
def test_shared_parameter_accumulates(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    expected = on_reference(probes.test_shared_parameter_accumulates, challenge)
    got = expect.array(artefacts, "w_grad", shape=(challenge["n"],) * 2, module=5)
    expect.close(got, np.asarray(expected["w_grad"]), "gradient of a weight used twice (must be the sum)",
                 module=5, rtol=1e-3)
