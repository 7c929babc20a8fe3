"""Module 19 (benchmarking) probes: run a Benchmark over two small counting models and report what came
back, read through whichever names the edition uses.

Editions differ: the reference's `Benchmark(models, datasets, warmup=, iterations=).run()` returns a list
of results with `mean_latency_ms`-style fields; the course's `Benchmark(models, datasets, warmup_runs=,
measurement_runs=).run_latency_benchmark(input_shape)` returns a dict of results with `mean`, `median`,
`std`. Only the two contract names are imported; everything else is looked up tolerantly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, rng, values

TIMED_RUNS = 4
# Each edition's spelling of (warmup, timed runs) in the constructor, then none (its defaults).
_CONFIGURATIONS: tuple[dict[str, int], ...] = (
    {"warmup": 1, "iterations": TIMED_RUNS},
    {"warmup_runs": 1, "measurement_runs": TIMED_RUNS},
    {},
)
_STATISTICS = {
    "mean": ("mean_latency_ms", "mean_ms", "mean", "latency_mean"),
    "median": ("median_latency_ms", "median_ms", "median", "latency_median"),
    "std": ("std_latency_ms", "std_ms", "std", "latency_std"),
    "min": ("min_latency_ms", "min_ms", "min_val", "min"),
    "max": ("max_latency_ms", "max_ms", "max_val", "max"),
}


class _CountingModel:
    """A small Linear model that records every input it is run on."""

    def __init__(self, name: str, layer: Any) -> None:
        self.name = name
        self.layer = layer
        self.input_shapes: list[list[int]] = []

    def forward(self, x: Any) -> Any:
        self.input_shapes.append(list(values(x).shape))
        return self.layer.forward(x)

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def parameters(self) -> list[Any]:
        return self.layer.parameters()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return float(value)


def _describe(result: Any, key: Any, result_class: Any) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    for stat, names in _STATISTICS.items():
        found = [_number(getattr(result, n, None)) for n in names]
        stats[stat] = next((v for v in found if v is not None), None)
    name = key if isinstance(key, str) else getattr(result, "name", getattr(result, "metric_name", None))
    stats["name"] = name if isinstance(name, str) else None
    stats["is_result"] = isinstance(result, result_class) if isinstance(result_class, type) else False
    stats["type"] = type(result).__name__
    return stats


def run_benchmark(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    d_in, d_out, batch = challenge["in_features"], challenge["out_features"], challenge["batch"]
    models = [_CountingModel(name, tt.Linear(d_in, d_out)) for name in ("alpha", "beta")]
    x = tt.Tensor(float32(rng(challenge).standard_normal((batch, d_in))))
    benchmark_class, result_class = tt.Benchmark, tt.BenchmarkResult
    configured = None
    for configuration in _CONFIGURATIONS:
        try:
            bench = benchmark_class(models, [x], **configuration)
        except TypeError:
            if not configuration:
                raise
            continue
        configured = configuration
        break
    if callable(getattr(bench, "run", None)):
        results = bench.run()
    elif callable(getattr(bench, "run_latency_benchmark", None)):
        results = bench.run_latency_benchmark((batch, d_in))
    else:
        raise AttributeError("Benchmark has neither run() nor run_latency_benchmark()")
    items = list(results.items()) if isinstance(results, dict) else [(None, r) for r in list(results)]
    return {"results": [_describe(result, key, result_class) for key, result in items],
            "runs_requested": TIMED_RUNS if configured else None,
            "calls": [len(m.input_shapes) for m in models],
            "input_shapes": [shape for m in models for shape in m.input_shapes]}


def test_benchmark_runs_every_model(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return run_benchmark(tt, challenge)


def test_latency_statistics_positive(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return run_benchmark(tt, challenge)


def test_results_are_benchmark_results(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return run_benchmark(tt, challenge)


def test_each_model_timed_repeatedly(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return run_benchmark(tt, challenge)


def test_results_named_per_model(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return run_benchmark(tt, challenge)


def test_benchmark_feeds_the_input(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return run_benchmark(tt, challenge)
