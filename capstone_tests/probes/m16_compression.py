"""Module 16 (compression) probes: a two-layer model with weights and non-zero biases from the challenge,
pruned in place; the probe returns every parameter afterwards and the checks compare with the originals."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, rng, values_later, values_snapshot


def original_parameters(challenge: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) per Linear layer. Biases are non-zero so that pruning them would show."""
    r = rng(challenge)
    sizes = challenge["sizes"]
    layers = []
    for index in range(len(sizes) - 1):
        d_in, d_out = sizes[index], sizes[index + 1]
        weight = r.standard_normal((d_in, d_out))
        # Every other bias is tiny: a pruner that ranks biases with the weights always reaches those.
        magnitude = r.uniform(0.5, 1.5, d_out)
        magnitude[::2] = r.uniform(0.01, 0.1, len(magnitude[::2]))
        bias = magnitude * r.choice([-1.0, 1.0], d_out)
        layers.append((float32(weight), float32(bias)))
    return layers


def inputs(challenge: dict[str, Any]) -> np.ndarray:
    return float32(rng(challenge, 1).standard_normal((4, challenge["sizes"][0])))


def _model(tt: Resolver, challenge: dict[str, Any]) -> tuple[Any, list[Any]]:
    linears = []
    for weight, bias in original_parameters(challenge):
        layer = tt.Linear(*weight.shape)
        # Replacing `.data` keeps the Tensor objects (and any list parameters() returns) the layer holds.
        layer.weight.data = weight.copy()
        layer.bias.data = bias.copy()
        linears.append(layer)
    return tt.new("Stack", [linears[0], tt.new("Activation", tt.ReLU()), linears[1]]), linears


def _after(linears: list[Any]) -> dict[str, Any]:
    """Every parameter as it is now, copied (read with the artefacts)."""
    return {"weights": [values_snapshot(layer.weight) for layer in linears],
            "biases": [values_snapshot(layer.bias) for layer in linears]}


def test_magnitude_prune_sparsity(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model, linears = _model(tt, challenge)
    tt.magnitude_prune(model, challenge["sparsity"])
    return _after(linears)


def test_magnitude_prune_removes_smallest(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model, linears = _model(tt, challenge)
    tt.magnitude_prune(model, challenge["sparsity"])
    return _after(linears)


def test_magnitude_prune_biases_kept_or_zeroed(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model, linears = _model(tt, challenge)
    tt.magnitude_prune(model, challenge["sparsity"])
    return _after(linears)


def test_magnitude_prune_in_place(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model, linears = _model(tt, challenge)
    tt.magnitude_prune(model, challenge["sparsity"])
    return {**_after(linears), "output": values_later(model.forward(tt.Tensor(inputs(challenge))))}


def test_measure_sparsity(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model, linears = _model(tt, challenge)
    dense = tt.measure_sparsity(model)
    # Zero a known set of weights directly, so this test does not depend on magnitude_prune.
    r = rng(challenge, 2)
    weights = tt.materialize([values_later(layer.weight) for layer in linears])  # one round trip
    for layer, weight, fraction in zip(linears, weights, challenge["zero_fractions"], strict=True):
        data = np.array(weight, copy=True)
        flat = data.reshape(-1)
        flat[r.choice(flat.size, size=round(fraction * flat.size), replace=False)] = 0.0
        layer.weight.data = data
    return {"dense": dense, "sparse": tt.measure_sparsity(model), **_after(linears)}


def test_structured_prune_whole_channels(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model, linears = _model(tt, challenge)
    tt.structured_prune(model, challenge["ratio"])
    return _after(linears)


def test_structured_prune_weakest_channels(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model, linears = _model(tt, challenge)
    tt.structured_prune(model, challenge["ratio"])
    return _after(linears)
