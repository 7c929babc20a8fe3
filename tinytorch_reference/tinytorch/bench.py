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
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .core.tensor import Tensor, no_grad

__all__ = ["Benchmark", "BenchmarkResult"]


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
    def __init__(self, models: Any, datasets: Any, warmup: int = 3, iterations: int = 20) -> None:
        self.models = _named(models, "")
        self.datasets = _named(datasets, "data")
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

    def summary(self) -> str:
        """One line per result, fastest first."""
        results = self.results or self.run()
        return "\n".join(str(r) for r in sorted(results, key=lambda r: r.median_latency_ms))


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
