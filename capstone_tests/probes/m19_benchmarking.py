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

from ..boundary.session import RemoteError
from ..resolver import Resolver
from ._common import float32, is_callable, is_instance, rng, view_later

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


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return float(value)


_ATTRIBUTES = tuple(dict.fromkeys([n for names in _STATISTICS.values() for n in names] + ["name", "metric_name"]))


def _ask(result: Any, result_class: Any) -> dict[str, Any]:
    """What the probe reads of one result, as views to read later (all results in one round trip)."""
    return {"attributes": {n: view_later("attr_or_none", result, n) for n in _ATTRIBUTES},
            "has_name": view_later("has", result, "name"),
            "is_result": view_later("is_instance", result, result_class), "type": view_later("type_name", result)}


def _describe(read: dict[str, Any], key: Any) -> dict[str, Any]:
    """`read` is `_ask`'s answer, `key` the result's key in a dict of results (None in a list)."""
    attributes = read["attributes"]
    stats: dict[str, Any] = {}
    for stat, names in _STATISTICS.items():
        found = [_number(attributes[n]) for n in names]
        stats[stat] = next((v for v in found if v is not None), None)
    name = key if isinstance(key, str) else attributes["name"] if read["has_name"] else attributes["metric_name"]
    stats["name"] = name if isinstance(name, str) else None
    stats["is_result"] = bool(read["is_result"])
    stats["type"] = read["type"]
    return stats


def _is_type_error(error: Exception) -> bool:
    """A TypeError of the student's code, raised here (plain form) or in its own process (the grader's)."""
    return isinstance(error, TypeError) or (isinstance(error, RemoteError) and error.failure.type == "TypeError")


def run_benchmark(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    d_in, d_out, batch = challenge["in_features"], challenge["out_features"], challenge["batch"]
    # Small Linear models that record every input they are run on.
    models = [tt.new("CountingModel", tt.Linear(d_in, d_out), name=name) for name in ("alpha", "beta")]
    x = tt.Tensor(float32(rng(challenge).standard_normal((batch, d_in))))
    benchmark_class, result_class = tt.Benchmark, tt.BenchmarkResult
    configured = None
    for configuration in _CONFIGURATIONS:
        try:
            bench = benchmark_class(models, [x], **configuration)
            tt.settle()
        except Exception as error:
            if not configuration or not _is_type_error(error):
                raise
            continue
        configured = configuration
        break
    if is_callable(view_later("attr_or_none", bench, "run")):
        results = bench.run()
    elif is_callable(view_later("attr_or_none", bench, "run_latency_benchmark")):
        results = bench.run_latency_benchmark((batch, d_in))
    else:
        raise AttributeError("Benchmark has neither run() nor run_latency_benchmark()")
    if is_instance(results, "dict"):
        items = [(item[0], item[1]) for item in list(results.items())]
    else:
        items = [(None, result) for result in list(results)]
    keys, asked, input_shapes = tt.materialize([[key for key, _ in items],
                                                [_ask(result, result_class) for _, result in items],
                                                [m.input_shapes for m in models]])  # one round trip
    return {"results": [_describe(read, key) for key, read in zip(keys, asked, strict=True)],
            "runs_requested": TIMED_RUNS if configured else None,
            "calls": [len(shapes) for shapes in input_shapes],
            "input_shapes": [shape for shapes in input_shapes for shape in shapes]}


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
