"""Module 14: profiling (parameters, FLOPs, latency, memory).

FLOP convention: one multiply-add is 2 FLOPs; only Linear, Conv2d and attention's matmuls are counted
(activations, pooling, normalisation and bias additions are lower order and left out). `count_flops`
reports FLOPs **per sample**: a Linear(in, out) costs 2*in*out, a Conv2d 2*k*k*Cin*Cout*Hout*Wout,
MultiHeadAttention on S tokens 4 * 2*S*D*D (projections) + 2 * 2*S*S*D (scores and weighted sum).
`input_shape` may include a leading batch axis; it is recognised as one when the shape has more axes than
the first layer consumes (1 for Linear, 2 for attention, 3 for Conv2d and pooling) and then dropped.
Any other layer with weight matrices is approximated as 2 FLOPs per matrix entry per row of its input.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.attention import MultiHeadAttention
from ..core.layers import Linear
from ..core.spatial import AvgPool2d, Conv2d, MaxPool2d
from ..core.tensor import Tensor, no_grad

__all__ = ["Profiler"]


def _parameters(model: Any) -> list[Tensor]:
    if callable(getattr(model, "parameters", None)):
        return list(model.parameters())
    return [p for layer in getattr(model, "layers", []) for p in _parameters(layer)]


def _leaf_layers(model: Any) -> Iterator[Any]:
    """Layers in call order: containers with `.layers` are opened, everything else is a leaf."""
    layers = getattr(model, "layers", None)
    if isinstance(layers, (list, tuple)):
        for layer in layers:
            yield from _leaf_layers(layer)
    else:
        yield model


def _call(model: Any, x: Any) -> Any:
    return model(x) if callable(model) else model.forward(x)


class Profiler:
    def count_parameters(self, model: Any) -> int:
        """Number of scalar parameters (each shared Tensor counted once)."""
        unique = {id(p): p for p in _parameters(model)}
        return int(sum(p.data.size for p in unique.values()))

    def count_flops(self, model: Any, input_shape: tuple[int, ...]) -> int:
        """FLOPs of one forward pass for one sample (see the module docstring for the convention)."""
        layers = list(_leaf_layers(model))
        shape = tuple(int(s) for s in input_shape)
        first = next((_input_rank(layer) for layer in layers if _input_rank(layer)), None)
        if first is not None and len(shape) > first:
            shape = shape[1:]
        total = 0
        for layer in layers:
            flops, shape = _layer_flops(layer, shape)
            total += flops
        return int(total)

    def measure_latency(self, model: Any, x: Any, warmup: int = 10, iterations: int = 100) -> float:
        """Median wall time of one forward pass in milliseconds (no graph is built)."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        with no_grad():
            for _ in range(warmup):
                _call(model, x)
            times = []
            for _ in range(max(iterations, 1)):
                start = time.perf_counter()
                _call(model, x)
                times.append(time.perf_counter() - start)
        return float(np.median(times) * 1000.0)

    def measure_memory(self, model: Any, input_shape: tuple[int, ...]) -> dict[str, float]:
        """Parameter memory and the peak Python-heap allocation of one forward pass, in MB.

        tracemalloc sees numpy's buffers, so the peak is the activations a forward pass allocates.
        """
        parameter_mb = sum(p.data.nbytes for p in _parameters(model)) / 2**20
        x = Tensor(np.random.randn(*input_shape))
        started = tracemalloc.is_tracing()
        if not started:
            tracemalloc.start()
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        with no_grad():
            _call(model, x)
        _, peak = tracemalloc.get_traced_memory()
        if not started:
            tracemalloc.stop()
        activation_mb = max(peak - baseline, 0) / 2**20
        return {"parameter_memory_mb": parameter_mb, "activation_memory_mb": activation_mb,
                "peak_memory_mb": parameter_mb + activation_mb}

    def profile_forward_pass(self, model: Any, x: Any) -> dict[str, float]:
        """Everything above in one dict, for reports."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        latency = self.measure_latency(model, x, warmup=3, iterations=20)
        flops = self.count_flops(model, x.shape)
        batch = x.shape[0] if x.ndim > 1 else 1
        return {"parameters": self.count_parameters(model), "flops_per_sample": flops,
                "latency_ms": latency, "gflops_per_second": flops * batch / (latency / 1000.0) / 1e9,
                **self.measure_memory(model, x.shape)}


def _input_rank(layer: Any) -> int | None:
    if isinstance(layer, Linear):
        return 1
    if isinstance(layer, MultiHeadAttention):
        return 2
    if isinstance(layer, (Conv2d, MaxPool2d, AvgPool2d)):
        return 3
    return None


def _layer_flops(layer: Any, shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """(FLOPs, output shape) of one layer on one sample of `shape`."""
    if isinstance(layer, Linear):
        d_in, d_out = layer.weight.shape
        if not shape or shape[-1] != d_in:
            shape = (d_in,)  # a flatten (reshape) happened between the previous layer and this one
        rows = int(np.prod(shape[:-1]))
        return 2 * rows * d_in * d_out, (*shape[:-1], d_out)
    if isinstance(layer, Conv2d):
        _, height, width = shape[-3:]
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        out_h, out_w = (height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1
        flops = 2 * k * k * layer.in_channels * layer.out_channels * out_h * out_w
        return flops, (layer.out_channels, out_h, out_w)
    if isinstance(layer, (MaxPool2d, AvgPool2d)):
        channels, height, width = shape[-3:]
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        return 0, (channels, (height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1)
    if isinstance(layer, MultiHeadAttention):
        seq, dim = (shape[-2], shape[-1]) if len(shape) >= 2 else (1, shape[-1])
        return 4 * 2 * seq * dim * dim + 2 * 2 * seq * seq * dim, shape
    # Any other layer with weight matrices (a transformer block, a whole GPT...): approximate as every
    # matrix applied once per row. Elementwise layers have no parameters and cost 0.
    matrices = sum(p.data.size for p in _parameters(layer) if p.data.ndim >= 2)
    return 2 * int(np.prod(shape[:-1])) * matrices, shape
