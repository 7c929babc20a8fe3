"""The tour of layer types: the reference passes it on every seed, each way a kind's gradient can go wrong is a
fault of that kind's module, and a check's autograd or optimizer blame gives way to the broken layer's module."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from capstone_tests.checks import _capstone_tour as checks
from capstone_tests.probes import _capstone_tour as probes
from capstone_tests.resolver import REFERENCE, Resolver
from capstone_tests.verdict import CheckFailed

MODULES = {"autograd": 5, "linear": 3, "relu": 2, "sigmoid": 2, "gelu": 2, "softmax": 2, "mse": 4, "cross_entropy": 4,
           "bce": 4, "conv2d": 9, "maxpool2d": 9, "embedding": 11, "positional_encoding": 11, "attention": 12}


def _challenge(seed: int) -> dict[str, Any]:
    return {"seed": int(np.random.default_rng(seed).integers(2**62))}


def _correct(challenge: dict[str, Any], kind: str, change: Any = None) -> dict[str, Any]:
    """A tour entry with the float64 gradients in float32, each passed through `change` if given."""
    grads: dict[str, Any] = {name: np.asarray(change(g) if change else g, dtype=np.float32)
                             for name, g in checks._expected(challenge, kind).items()}
    if kind == "positional_encoding":
        grads["table"] = [grads["table"]]
    return {"grads": grads}


def test_the_reference_passes_the_tour_on_every_seed() -> None:
    tt = Resolver(REFERENCE)
    tt.enable_autograd()
    for seed in range(40):
        challenge = _challenge(seed)
        toured = probes.tour(tt, challenge)
        assert set(toured) == set(probes.KINDS)
        assert checks.faults(challenge, {"tour": toured}, probes.KINDS) == [], f"seed {seed}"


def test_every_kind_is_named_by_its_module() -> None:
    assert set(checks.LABELS) == set(probes.KINDS) == set(MODULES)
    assert {kind: module for kind, (module, _) in checks.LABELS.items()} == MODULES
    assert all(set(kinds) <= set(probes.KINDS) for kinds in probes.USES.values())


@pytest.mark.parametrize("kind", probes.KINDS)
def test_a_wrong_or_missing_gradient_is_a_fault_of_its_kind(kind: str) -> None:
    challenge = _challenge(1)
    assert checks.fault(challenge, kind, _correct(challenge, kind)) is None
    wrong = checks.fault(challenge, kind, _correct(challenge, kind, lambda g: g * 1.5 + 0.3))
    assert wrong is not None and wrong.module == MODULES[kind] and "is wrong" in wrong.message
    missing = _correct(challenge, kind)
    first = next(iter(missing["grads"]))
    missing["grads"][first] = None
    found = checks.fault(challenge, kind, missing)
    assert found is not None and found.module == MODULES[kind] and "got no gradient" in found.message
    raised = checks.fault(challenge, kind, {"error": "ValueError: shapes do not align"})
    assert raised is not None and "raised ValueError" in raised.message
    # A module the package lacks is its own tests' business, not this kind's fault.
    assert checks.fault(challenge, kind, {"missing": "module 09 (spatial) not found"}) is None


@pytest.mark.parametrize("kind", ["mse", "cross_entropy", "bce", "relu"])
def test_a_backward_returning_a_bare_array_is_the_autograds(kind: str) -> None:
    """What a bare array (for a tuple of one gradient per input) turns into, engine by engine: its first row spread
    over the whole gradient, one row where the whole was due, or an engine that cannot take it apart. That contract
    is module 05's (the course's autograd gives every loss and activation its backward); a wrong formula is not."""
    challenge = _challenge(3)
    spread = checks.fault(challenge, kind, _correct(challenge, kind, lambda g: np.broadcast_to(g[:1], g.shape)))
    assert spread is not None and spread.module == 5 and "every row of the gradient" in spread.message
    assert "`return (grad,)`" in spread.hint
    one_row = checks.fault(challenge, kind, _correct(challenge, kind, lambda g: g[0]))
    assert one_row is not None and one_row.module == 5 and "one row of the expected" in one_row.message
    shape = checks._expected(challenge, kind)["x"].shape
    raised = checks.fault(challenge, kind, {"error": f"ValueError: cannot reshape array of size {shape[-1]} into "
                                                     f"shape ({shape[0]},{shape[1]})"})
    assert raised is not None and raised.module == 5 and "one row of it" in raised.hint
    scaled = checks.fault(challenge, kind, _correct(challenge, kind, lambda g: g * 3.0))
    assert scaled is not None and scaled.module == MODULES[kind]


def test_a_detached_linear_bias_is_told_apart_from_a_detached_linear() -> None:
    challenge = _challenge(2)
    bias_only = _correct(challenge, "linear")
    bias_only["grads"]["bias"] = None
    found = checks.fault(challenge, "linear", bias_only)
    assert found is not None and "bias is cut from the graph" in found.message and "self.bias itself" in found.hint
    frozen = _correct(challenge, "linear")
    frozen["grads"]["weight"] = frozen["grads"]["bias"] = None
    found = checks.fault(challenge, "linear", frozen)
    assert found is not None and "its weight and its bias got no gradient" in found.message
    assert "not their .data" in found.hint


def test_every_gelu_formula_the_course_editions_use_passes() -> None:
    challenge = _challenge(3)
    d = {k: v.astype(np.float64) for k, v in probes.data(challenge, "gelu").items()}
    s = 1 / (1 + np.exp(-1.702 * d["x"]))
    sigmoid_form = d["r"] * (s + 1.702 * d["x"] * s * (1 - s))
    assert checks.fault(challenge, "gelu", {"grads": {"x": sigmoid_form.astype(np.float32)}}) is None
    relu_slope = d["r"] * (d["x"] > 0)  # ReLU's slope in GELU's place is a different activation
    assert checks.fault(challenge, "gelu", {"grads": {"x": relu_slope.astype(np.float32)}}) is not None


def test_blame_goes_to_the_broken_layer_only_over_a_guess() -> None:
    challenge = _challenge(4)
    tour = {kind: _correct(challenge, kind) for kind in ("autograd", "linear", "relu")}
    tour["relu"] = _correct(challenge, "relu", lambda g: g * 2.0)
    artefacts = {"tour": tour}
    kinds = ("autograd", "linear", "relu")
    with pytest.raises(CheckFailed) as caught, checks.blamed(challenge, artefacts, kinds):
        raise CheckFailed("bias of Linear layer 1 got no gradient", 5, got=1)
    verdict = caught.value.verdict
    assert verdict.module == 2 and verdict.message.startswith("ReLU alone")
    assert "in this test: bias of Linear layer 1 got no gradient" in verdict.message
    assert verdict.evidence["layer"] == "relu" and verdict.evidence["got"] == 1 and verdict.hint
    # A check that already names a specific module (here the loss value, 04) keeps its blame.
    with pytest.raises(CheckFailed) as caught, checks.blamed(challenge, artefacts, kinds):
        raise CheckFailed("the MSE loss is wrong", 4)
    assert caught.value.verdict.module == 4
    # Nothing broken in the tour: the check's own blame stands.
    fine = {"tour": {kind: _correct(challenge, kind) for kind in kinds}}
    with pytest.raises(CheckFailed) as caught, checks.blamed(challenge, fine, kinds):
        raise CheckFailed("the update is wrong", 6)
    assert caught.value.verdict.module == 6
