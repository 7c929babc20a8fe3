"""Module 14 (profiling) probes: what `Profiler` reports for small models built from the challenge."""

from __future__ import annotations

from typing import Any

from ..resolver import Resolver
from ._common import float32, rng, values


class _Activation:
    """A student's activation with an empty `parameters()`: the contract does not promise activations have
    one, but profilers that walk `model.layers` call it on every layer."""

    def __init__(self, activation: Any) -> None:
        self.activation = activation

    def forward(self, x: Any) -> Any:
        return self.activation(x)

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def parameters(self) -> list[Any]:
        return []


class _Stack:
    """A model object with both `.layers` and `parameters()`, the form the course's tools walk."""

    def __init__(self, layers: list[Any]) -> None:
        self.layers = layers

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for p in layer.parameters()]

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def __call__(self, x: Any) -> Any:
        return self.forward(x)


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
    model = _Stack([first, _Activation(tt.ReLU()), second])
    count = tt.Profiler().count_parameters(model)
    return {"count": count, "shapes": _shapes(first.parameters()) + _shapes(second.parameters())}


def test_count_parameters_linear(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    layer = tt.Linear(challenge["in_features"], challenge["out_features"])
    return {"count": tt.Profiler().count_parameters(layer), "shapes": _shapes(layer.parameters())}


def test_count_parameters_without_bias(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    layer = tt.Linear(challenge["in_features"], challenge["out_features"], bias=False)
    model = _Stack([layer])
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
