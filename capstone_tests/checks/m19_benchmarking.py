"""Module 19 (benchmarking) checks: a Benchmark over two models returns one result per model, each with
finite positive latency statistics taken over repeated real runs on the given input.

No timing threshold: how fast a model runs is not this module's business, only that the figures are
measured and sane. The probe reads results through each edition's names (see its docstring); the
course's December 2025 edition of this module fails at import, and such a package fails these tests
with the import error named, as it should.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..registry import check
from . import expect


def _challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"in_features": int(r.integers(4, 17)), "out_features": int(r.integers(2, 9)),
            "batch": int(r.integers(2, 9))}


def _results(artefacts: dict[str, Any]) -> list[dict[str, Any]]:
    results = artefacts["results"]
    expect.that(isinstance(results, list) and all(isinstance(r, dict) for r in results),
                "the benchmark's results could not be read", module=19)
    return results


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@check(module=19, challenge=_challenge)
def test_benchmark_runs_every_model(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    results = _results(artefacts)
    expect.that(len(results) == 2,
                f"a Benchmark of 2 models on 1 input returned {len(results)} results, expected one per model",
                module=19)
    calls = artefacts["calls"]
    expect.that(all(isinstance(c, int) and c > 0 for c in calls),
                f"the Benchmark ran the two models {calls} times: it must run every model it was given",
                module=19)


@check(module=19, challenge=_challenge)
def test_latency_statistics_positive(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    for result in _results(artefacts):
        for stat in ("mean", "median"):
            value = result.get(stat)
            expect.that(value is not None,
                        f"a {result.get('type')} carries no {stat} latency (looked for mean_latency_ms / mean, "
                        f"median_latency_ms / median)", module=19)
            expect.that(_positive(value),
                        f"a benchmark result's {stat} latency is {value!r}: a timed forward pass takes a positive, "
                        f"finite time", module=19)
        std = result.get("std")
        expect.that(std is None or (isinstance(std, int | float) and math.isfinite(std) and std >= 0),
                    f"a benchmark result's latency standard deviation is {std!r}: expected a finite number >= 0",
                    module=19)
        low, high = result.get("min"), result.get("max")
        if _positive(low) and _positive(high):
            expect.that(low <= result["median"] <= high and low <= result["mean"] <= high,
                        f"a benchmark result has min {low:.4g}, max {high:.4g} but mean {result['mean']:.4g} and "
                        f"median {result['median']:.4g}: they must lie between min and max", module=19)


@check(module=19, challenge=_challenge)
def test_results_are_benchmark_results(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    types = {r.get("type") for r in _results(artefacts)}
    expect.that(bool(types) and all(r.get("is_result") for r in _results(artefacts)),
                f"the Benchmark returned {sorted(str(t) for t in types)} objects: each result must be a "
                f"BenchmarkResult", module=19)


@check(module=19, challenge=_challenge)
def test_each_model_timed_repeatedly(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    requested = artefacts.get("runs_requested")
    least = requested if isinstance(requested, int) else 2
    calls = artefacts["calls"]
    expect.that(all(isinstance(c, int) and c >= least for c in calls),
                f"the Benchmark ran the models {calls} times each"
                + (f" when {requested} timed runs were asked for" if requested else "")
                + f": time at least {least} runs per model so the statistics mean something", module=19)


@check(module=19, challenge=_challenge)
def test_results_named_per_model(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    names = [r.get("name") for r in _results(artefacts)]
    expect.that(all(isinstance(n, str) and n for n in names),
                f"benchmark results carry names {names}: each result must say which model it measured", module=19)
    expect.that(len(set(names)) == len(names),
                f"benchmark results carry names {names}: two models must give two different names", module=19)


@check(module=19, challenge=_challenge)
def test_benchmark_feeds_the_input(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    expected = [challenge["batch"], challenge["in_features"]]
    shapes = artefacts["input_shapes"]
    expect.that(bool(shapes), "the Benchmark never ran the models on the given input", module=19)
    wrong = [s for s in shapes if list(s) != expected]
    expect.that(not wrong,
                f"the Benchmark ran the models on inputs of shape {tuple(wrong[0]) if wrong else ()}, expected "
                f"the given batch's {tuple(expected)}", module=19)
