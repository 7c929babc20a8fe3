"""Module 14 (profiling) probes: what `Profiler` reports for small models built from the challenge."""

from __future__ import annotations

from typing import Any

from ..resolver import Resolver
from ._common import float32, rng, values_later


def _counted(tt: Resolver, count: Any, *layers: Any) -> dict[str, Any]:
    """count_parameters' answer and the shape of every parameter of `layers`, read in one round trip."""
    count, arrays = tt.materialize([count, [values_later(p) for layer in layers for p in layer.parameters()]])
    return {"count": count, "shapes": [list(array.shape) for array in arrays]}


def test_count_parameters_model(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    sizes = challenge["sizes"]
    first, second = tt.Linear(sizes[0], sizes[1]), tt.Linear(sizes[1], sizes[2])
    model = tt.new("Stack", [first, tt.new("Activation", tt.ReLU()), second])
    return _counted(tt, tt.Profiler().count_parameters(model), first, second)


def test_count_parameters_linear(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    layer = tt.Linear(challenge["in_features"], challenge["out_features"])
    return _counted(tt, tt.Profiler().count_parameters(layer), layer)


def test_count_parameters_without_bias(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    layer = tt.Linear(challenge["in_features"], challenge["out_features"], bias=False)
    model = tt.new("Stack", [layer])
    return _counted(tt, tt.Profiler().count_parameters(model), layer)


def test_count_flops_linear(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    layer = tt.Linear(challenge["in_features"], challenge["out_features"])
    flops = tt.Profiler().count_flops(layer, (challenge["batch"], challenge["in_features"]))
    return {"flops": flops}


def test_count_flops_proportional_to_width(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    profiler = tt.Profiler()
    shape = (challenge["batch"], challenge["in_features"])
    flops = [profiler.count_flops(tt.Linear(challenge["in_features"], width), shape)
             for width in challenge["widths"]]
    return {"flops": flops}


def test_measure_latency_positive(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    r = rng(challenge)
    layer = tt.Linear(challenge["in_features"], challenge["out_features"])
    x = tt.Tensor(float32(r.standard_normal((challenge["batch"], challenge["in_features"]))))
    latency = tt.Profiler().measure_latency(layer, x, warmup=1, iterations=challenge["iterations"])
    return {"latency": latency}


def test_measure_latency_runs_the_model(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    r = rng(challenge)
    # Counts forward passes, so a check can tell whether the latency was measured on real runs.
    model = tt.new("CountingModel", tt.Linear(challenge["in_features"], challenge["out_features"]))
    x = tt.Tensor(float32(r.standard_normal((challenge["batch"], challenge["in_features"]))))
    latency = tt.Profiler().measure_latency(model, x, warmup=challenge["warmup"],
                                            iterations=challenge["iterations"])
    return {"latency": latency, "calls": model.calls}
