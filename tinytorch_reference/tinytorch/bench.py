"""Module 19: benchmarking.

`Benchmark(models, datasets).run()` times every model on every dataset and returns one
`BenchmarkResult` per pair:

    bench = Benchmark({"mlp": mlp, "pruned": pruned}, {"test": (x_test, y_test)})
    for result in bench.run():
        print(result)

- models: one model, a list (named by class and index) or a dict name -> model; anything callable as
  `model(x)` (or with a `forward`) works.
- datasets: one input, a list or a dict name -> input. An input is a batch (Tensor or array, batch axis
  first), an `(x, y)` pair with integer labels (the result then has `accuracy`, from the arg-max of the
  model's output), or a zero-argument callable returning either (generated data).

Latency is wall time per forward pass (no graph is built), `warmup` untimed calls first; throughput is
samples per second at the median latency; memory is the peak heap allocation (tracemalloc, which sees
numpy buffers) of one call.

The course's entry points are here too: `run_latency_benchmark(input_shape)` (every model on one random
input), `measure_latency(model, x)`, and `TinyMLPerf`, standard tasks with a latency limit each.
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .core.tensor import Tensor, no_grad

__all__ = ["Benchmark", "BenchmarkResult", "TinyMLPerf"]


@dataclass
class BenchmarkResult:
    name: str
    mean_latency_ms: float
    std_latency_ms: float
    median_latency_ms: float
    throughput: float  # samples per second at the median latency
    memory_mb: float  # peak allocation of one forward pass
    accuracy: float | None = None
    batch_size: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # The course's result is a list of latencies with statistics named mean/std/median (in ms).
    @property
    def mean(self) -> float:
        return self.mean_latency_ms

    @property
    def std(self) -> float:
        return self.std_latency_ms

    @property
    def median(self) -> float:
        return self.median_latency_ms

    def __str__(self) -> str:
        accuracy = "" if self.accuracy is None else f", accuracy {self.accuracy:.3f}"
        return (f"{self.name}: {self.median_latency_ms:.3f} ms median ({self.mean_latency_ms:.3f} ± "
                f"{self.std_latency_ms:.3f}), {self.throughput:.1f} samples/s, {self.memory_mb:.2f} MB"
                f"{accuracy}")


def _named(items: Any, prefix: str) -> dict[str, Any]:
    if isinstance(items, dict):
        return dict(items)
    if isinstance(items, list):
        return {f"{prefix}{i}" if prefix else f"{type(item).__name__}{i}": item for i, item in enumerate(items)}
    return {prefix or type(items).__name__: items}


def _call(model: Any, x: Tensor) -> Any:
    return model(x) if callable(model) else model.forward(x)


def _split(data: Any) -> tuple[Tensor, np.ndarray | None]:
    if callable(data) and not isinstance(data, Tensor):
        data = data()
    if isinstance(data, tuple) and len(data) == 2:
        x, y = data
        labels = np.asarray(y.data if isinstance(y, Tensor) else y).astype(np.int64).reshape(-1)
        return (x if isinstance(x, Tensor) else Tensor(x)), labels
    return (data if isinstance(data, Tensor) else Tensor(data)), None


class Benchmark:
    def __init__(self, models: Any = None, datasets: Any = None, warmup: int = 3, iterations: int = 20) -> None:
        # Both optional: `Benchmark().measure_latency(model, x)` times one model on one input.
        self.models = _named(models, "") if models is not None else {}
        self.datasets = _named(datasets, "data") if datasets is not None else {}
        self.warmup = warmup
        self.iterations = max(int(iterations), 1)
        self.results: list[BenchmarkResult] = []

    def run(self) -> list[BenchmarkResult]:
        self.results = [self.measure(f"{model_name}/{data_name}", model, data)
                        for model_name, model in self.models.items()
                        for data_name, data in self.datasets.items()]
        return self.results

    def measure(self, name: str, model: Any, data: Any) -> BenchmarkResult:
        x, labels = _split(data)
        batch = x.shape[0] if x.ndim > 1 else 1
        with no_grad():
            for _ in range(self.warmup):
                _call(model, x)
            times = []
            for _ in range(self.iterations):
                start = time.perf_counter()
                output = _call(model, x)
                times.append((time.perf_counter() - start) * 1000.0)
            memory = _peak_mb(model, x)
        accuracy = None
        if labels is not None:
            logits = output.data if isinstance(output, Tensor) else np.asarray(output)
            accuracy = float(np.mean(logits.reshape(len(labels), -1).argmax(axis=-1) == labels))
        median = float(np.median(times))
        return BenchmarkResult(name=name, mean_latency_ms=float(np.mean(times)),
                               std_latency_ms=float(np.std(times)), median_latency_ms=median,
                               throughput=batch / (median / 1000.0) if median > 0 else float("inf"),
                               memory_mb=memory, accuracy=accuracy, batch_size=batch)

    def run_latency_benchmark(self, input_shape: tuple[int, ...] = (1, 28, 28)) -> dict[str, BenchmarkResult]:
        """Every model timed on one random input of `input_shape` (the course's Module 19 entry point:
        latency alone, whatever the datasets hold). Keyed by model name."""
        x = Tensor(np.random.default_rng(0).standard_normal(input_shape).astype(np.float32))
        return {name: self.measure(name, model, x) for name, model in self.models.items()}

    def measure_latency(self, model: Any, x: Any, iterations: int | None = None) -> float:
        """Median milliseconds of one forward pass of `model` on `x`."""
        timer = self if iterations is None else Benchmark(warmup=self.warmup, iterations=iterations)
        return timer.measure(type(model).__name__, model, x).median_latency_ms

    def summary(self) -> str:
        """One line per result, fastest first."""
        results = self.results or self.run()
        return "\n".join(str(r) for r in sorted(results, key=lambda r: r.median_latency_ms))


# name: (input shape, latency limit in ms, what the task is)
_TINY_MLPERF_TASKS = {
    "keyword_spotting": ((1, 16000), 100.0, "wake-word detection on 1 s of 16 kHz audio"),
    "visual_wake_words": ((1, 3, 96, 96), 200.0, "person detection in a 96x96 RGB image"),
    "anomaly_detection": ((1, 640), 50.0, "anomaly detection on machine sensor data"),
    "image_classification": ((1, 3, 32, 32), 150.0, "classification of a 32x32 RGB image"),
}


class TinyMLPerf:
    """MLPerf Tiny-style standard runs: each task fixes an input shape (NCHW for images, as our Conv2d)
    and a latency limit, and a model complies when its 90th-percentile latency is within the limit.

    The inputs are seeded random data (the reference ships no datasets), so latency is all that is
    measured: each result's `accuracy` is None rather than a made-up figure.
    """

    def __init__(self, random_seed: int = 42) -> None:
        self.random_seed = random_seed
        self.benchmarks = {name: {"input_shape": shape, "max_latency_ms": limit, "description": text}
                           for name, (shape, limit, text) in _TINY_MLPERF_TASKS.items()}

    def list_benchmarks(self) -> list[str]:
        return list(self.benchmarks)

    def run_standard_benchmark(self, model: Any, benchmark_name: str, num_runs: int = 100) -> dict[str, Any]:
        if benchmark_name not in self.benchmarks:
            raise ValueError(f"unknown benchmark {benchmark_name!r}; choose from {self.list_benchmarks()}")
        task = self.benchmarks[benchmark_name]
        # A generator of our own: reseeding numpy's global one would change the caller's random stream.
        rng = np.random.default_rng(self.random_seed)
        inputs = [Tensor(rng.standard_normal(task["input_shape"]).astype(np.float32))
                  for _ in range(max(int(num_runs), 1))]
        times = []
        with no_grad():
            for x in inputs[:max(1, len(inputs) // 10)]:  # warm-up: caches, first allocations
                _call(model, x)
            for x in inputs:
                start = time.perf_counter()
                _call(model, x)
                times.append((time.perf_counter() - start) * 1000.0)
        mean, p90 = float(np.mean(times)), float(np.percentile(times, 90))
        return {"benchmark": benchmark_name, "accuracy": None, "mean_latency_ms": mean,
                "median_latency_ms": float(np.median(times)), "p90_latency_ms": p90,
                "throughput_fps": 1000.0 / mean if mean > 0 else float("inf"),
                "max_latency_ms": task["max_latency_ms"], "compliant": p90 <= task["max_latency_ms"]}

    def run_all_benchmarks(self, model: Any, num_runs: int = 100) -> dict[str, dict[str, Any]]:
        """Every task on the same model; a task whose input the model cannot take is skipped."""
        results = {}
        for name in self.benchmarks:
            try:
                results[name] = self.run_standard_benchmark(model, name, num_runs)
            except (ValueError, TypeError) as error:  # shape mismatch: the model is not for this task
                results[name] = {"benchmark": name, "error": str(error), "compliant": False}
        return results

    def generate_compliance_report(self, results: dict[str, dict[str, Any]]) -> str:
        lines = []
        for name, r in results.items():
            if "error" in r:
                lines.append(f"{name}: not run ({r['error']})")
            else:
                verdict = "compliant" if r["compliant"] else "too slow"
                lines.append(f"{name}: p90 {r['p90_latency_ms']:.2f} ms of {r['max_latency_ms']:.0f} ms "
                             f"allowed, {verdict}")
        return "\n".join(lines)


def _peak_mb(model: Any, x: Tensor) -> float:
    started = tracemalloc.is_tracing()
    if not started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    baseline, _ = tracemalloc.get_traced_memory()
    _call(model, x)
    _, peak = tracemalloc.get_traced_memory()
    if not started:
        tracemalloc.stop()
    return max(peak - baseline, 0) / 2**20
