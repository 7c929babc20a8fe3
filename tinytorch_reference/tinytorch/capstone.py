"""Module 20: capstone, measuring a model and packaging the numbers as a submission.

    baseline = BenchmarkReport("baseline")
    baseline.benchmark_model(model, x_test, y_test)
    optimized = BenchmarkReport("int8")
    optimized.benchmark_model(quantized_model, x_test, y_test)
    submission = generate_submission(baseline, optimized, student_name="ada",
                                     techniques=["quantization"])
    json.dumps(submission)  # plain numbers, strings, lists and dicts only

A report's metrics: parameters (count), size_mb (float32 bytes of the parameters), latency_ms (median
of one forward pass on the given batch), throughput (samples per second), accuracy (when labels are
given; arg-max of the output against integer labels).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from .core.tensor import Tensor, no_grad
from .perf.profiling import Profiler

__all__ = ["BenchmarkReport", "generate_submission"]

SUBMISSION_VERSION = 1


def _plain(value: Any) -> Any:
    """numpy scalars and arrays -> Python numbers and lists, recursively (json.dumps-safe)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class BenchmarkReport:
    def __init__(self, model_name: str = "model") -> None:
        self.model_name = model_name
        self.metrics: dict[str, Any] = {}
        self.profiler = Profiler()

    def benchmark_model(self, model: Any, x: Any, y: Any = None, warmup: int = 3,
                        iterations: int = 20) -> dict[str, Any]:
        """Measure `model` on the batch `x` (and labels `y`); the metrics are stored and returned."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        batch = x.shape[0] if x.ndim > 1 else 1
        latency = self.profiler.measure_latency(model, x, warmup=warmup, iterations=iterations)
        parameters = self.profiler.count_parameters(model)
        self.metrics.update({
            "parameters": parameters,
            "size_mb": parameters * 4 / 2**20,
            "latency_ms": latency,
            "throughput": batch / (latency / 1000.0) if latency > 0 else float("inf"),
            "batch_size": batch,
        })
        if y is not None:
            self.metrics["accuracy"] = self.accuracy(model, x, y)
        return dict(self.metrics)

    @staticmethod
    def accuracy(model: Any, x: Tensor, y: Any) -> float:
        labels = np.asarray(y.data if isinstance(y, Tensor) else y).astype(np.int64).reshape(-1)
        with no_grad():
            output = model(x) if callable(model) else model.forward(x)
        logits = output.data if isinstance(output, Tensor) else np.asarray(output)
        return float(np.mean(logits.reshape(len(labels), -1).argmax(axis=-1) == labels))

    def add_metric(self, name: str, value: Any) -> None:
        """Record anything else worth reporting (sparsity, compression ratio, ...)."""
        self.metrics[name] = value

    def to_dict(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "metrics": _plain(self.metrics)}


def _report(report: BenchmarkReport | dict[str, Any] | None) -> dict[str, Any] | None:
    if report is None:
        return None
    if isinstance(report, BenchmarkReport):
        return report.to_dict()
    # A bare metrics dict is accepted too.
    return _plain(report) if "metrics" in report else {"model_name": "model", "metrics": _plain(report)}


def _improvements(baseline: dict[str, Any], optimized: dict[str, Any]) -> dict[str, float]:
    base, opt = baseline["metrics"], optimized["metrics"]
    found: dict[str, float] = {}
    if base.get("latency_ms") and opt.get("latency_ms"):
        found["speedup"] = base["latency_ms"] / opt["latency_ms"]
    if base.get("size_mb") and opt.get("size_mb"):
        found["compression_ratio"] = base["size_mb"] / opt["size_mb"]
    if "accuracy" in base and "accuracy" in opt:
        found["accuracy_delta"] = opt["accuracy"] - base["accuracy"]
    return found


def generate_submission(baseline: BenchmarkReport | dict[str, Any],
                        optimized: BenchmarkReport | dict[str, Any] | None = None,
                        student_name: str = "anonymous", techniques: list[str] | None = None,
                        output_path: str | Path | None = None) -> dict[str, Any]:
    """A JSON-serialisable submission; also written to `output_path` when given."""
    base = _report(baseline)
    opt = _report(optimized)
    submission: dict[str, Any] = {
        "version": SUBMISSION_VERSION,
        "student_name": student_name,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "system": {"python": platform.python_version(), "numpy": np.__version__,
                   "machine": platform.machine()},
        "techniques": list(techniques or []),
        "baseline": base,
        "optimized": opt,
        "improvements": _improvements(base, opt) if opt is not None else {},
    }
    submission = _plain(submission)
    json.dumps(submission)  # fail here, not in the student's upload, if anything slipped through
    if output_path is not None:
        Path(output_path).write_text(json.dumps(submission, indent=2))
    return submission
