"""Module 14 (profiling) probes: what `Profiler` reports for small models built from the challenge."""

from __future__ import annotations

from typing import Any

from ..resolver import Resolver
from ._common import Activation, Stack, float32, rng, values


class _CountingModel:
    """Counts forward passes, so a check can tell whether the latency was measured on real runs."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.calls = 0

    def forward(self, x: Any) -> Any:
        self.calls += 1
        return self.layer.forward(x)

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def parameters(self) -> list[Any]:
        return self.layer.parameters()


def _shapes(parameters: Any) -> list[list[int]]:
    return [list(values(p).shape) for p in parameters]


def test_count_parameters_model(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    sizes = challenge["sizes"]
    first, second = tt.Linear(sizes[0], sizes[1]), tt.Linear(sizes[1], sizes[2])
    model = Stack([first, Activation(tt.ReLU()), second])
    count = tt.Profiler().count_parameters(model)
    return {"count": count, "shapes": _shapes(first.parameters()) + _shapes(second.parameters())}


def test_count_parameters_linear(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    layer = tt.Linear(challenge["in_features"], challenge["out_features"])
    return {"count": tt.Profiler().count_parameters(layer), "shapes": _shapes(layer.parameters())}


def test_count_parameters_without_bias(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    layer = tt.Linear(challenge["in_features"], challenge["out_features"], bias=False)
    model = Stack([layer])
    return {"count": tt.Profiler().count_parameters(model), "shapes": _shapes(layer.parameters())}


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
    model = _CountingModel(tt.Linear(challenge["in_features"], challenge["out_features"]))
    x = tt.Tensor(float32(r.standard_normal((challenge["batch"], challenge["in_features"]))))
    latency = tt.Profiler().measure_latency(model, x, warmup=challenge["warmup"],
                                            iterations=challenge["iterations"])
    return {"latency": latency, "calls": model.calls}
