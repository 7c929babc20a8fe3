"""The performance modules of the reference (14-20): profiling, quantization, pruning, KV cache,
acceleration kernels, benchmarking and the capstone report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gradcheck import check_gradients

from tinytorch_reference.tinytorch.bench import Benchmark, BenchmarkResult
from tinytorch_reference.tinytorch.capstone import BenchmarkReport, generate_submission
from tinytorch_reference.tinytorch.core.activations import ReLU
from tinytorch_reference.tinytorch.core.attention import MultiHeadAttention
from tinytorch_reference.tinytorch.core.layers import Linear, Sequential
from tinytorch_reference.tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch_reference.tinytorch.core.tensor import Tensor
from tinytorch_reference.tinytorch.perf.acceleration import fused_gelu, tiled_matmul, vectorized_matmul
from tinytorch_reference.tinytorch.perf.compression import (
    magnitude_prune,
    measure_sparsity,
    structured_prune,
)
from tinytorch_reference.tinytorch.perf.memoization import KVCache
from tinytorch_reference.tinytorch.perf.profiling import Profiler
from tinytorch_reference.tinytorch.perf.quantization import (
    QuantizedLinear,
    dequantize_int8,
    quantize_int8,
    quantize_model,
)


def mlp(seed: int = 0) -> Sequential:
    np.random.seed(seed)
    model = Sequential(Linear(20, 32), ReLU(), Linear(32, 16), ReLU(), Linear(16, 4))
    for layer in model.layers:
        if isinstance(layer, Linear):
            layer.bias.data = np.random.normal(size=layer.bias.shape).astype(np.float32)
    return model


class BareModel:
    """A student-style model: `.layers` and `parameters()`, not a Layer subclass."""

    def __init__(self) -> None:
        np.random.seed(1)
        self.layers = [Linear(10, 8), ReLU(), Linear(8, 3)]

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    __call__ = forward

    def parameters(self) -> list[Tensor]:
        return [p for layer in self.layers for p in layer.parameters()]


# -------------------------------------------------------------------------------------- profiling
def test_count_parameters() -> None:
    profiler = Profiler()
    assert profiler.count_parameters(mlp()) == 20 * 32 + 32 + 32 * 16 + 16 + 16 * 4 + 4
    assert profiler.count_parameters(BareModel()) == 10 * 8 + 8 + 8 * 3 + 3
    assert profiler.count_parameters(MultiHeadAttention(16, 4)) == 4 * (16 * 16 + 16)


def test_count_flops_convention() -> None:
    profiler = Profiler()
    assert profiler.count_flops(Linear(784, 10), (64, 784)) == 2 * 784 * 10
    assert profiler.count_flops(Linear(784, 10), (784,)) == 2 * 784 * 10
    assert profiler.count_flops(mlp(), (8, 20)) == 2 * (20 * 32 + 32 * 16 + 16 * 4)
    cnn = Sequential(Conv2d(1, 8, 3), ReLU(), MaxPool2d(2), Conv2d(8, 16, 3), ReLU(), MaxPool2d(2),
                     Linear(16 * 5 * 5, 10))
    expected = 2 * 9 * 1 * 8 * 26 * 26 + 2 * 9 * 8 * 16 * 11 * 11 + 2 * 400 * 10
    assert profiler.count_flops(cnn, (32, 1, 28, 28)) == expected
    assert profiler.count_flops(cnn, (1, 28, 28)) == expected
    assert profiler.count_flops(Conv2d(3, 4, 3, stride=2, padding=1), (3, 8, 8)) == 2 * 9 * 3 * 4 * 4 * 4
    seq, dim = 10, 16
    assert profiler.count_flops(MultiHeadAttention(dim, 4), (2, seq, dim)) == \
        8 * seq * dim * dim + 4 * seq * seq * dim


def test_latency_and_memory() -> None:
    profiler = Profiler()
    x = Tensor(np.random.default_rng(0).normal(size=(16, 20)))
    latency = profiler.measure_latency(mlp(), x, warmup=2, iterations=10)
    assert isinstance(latency, float) and 0 < latency < 1000
    memory = profiler.measure_memory(mlp(), (16, 20))
    assert memory["parameter_memory_mb"] == pytest.approx(4 * Profiler().count_parameters(mlp()) / 2**20)
    assert memory["activation_memory_mb"] > 0
    assert memory["peak_memory_mb"] >= memory["parameter_memory_mb"]


# ----------------------------------------------------------------------------------- quantization
@pytest.mark.parametrize(("low", "high"), [(-1.0, 1.0), (-0.3, 2.5), (100.0, 101.0), (-50.0, -49.0)])
def test_quantize_round_trip_error_is_at_most_half_a_step(low: float, high: float) -> None:
    data = np.random.default_rng(0).uniform(low, high, (40, 30)).astype(np.float32)
    q, scale, zero_point = quantize_int8(Tensor(data))
    assert isinstance(q, np.ndarray) and q.dtype == np.int8
    assert q.min() == -128 and q.max() == 127  # the whole int8 range is used
    assert scale == pytest.approx((data.max() - data.min()) / 255)
    assert isinstance(zero_point, int)
    restored = dequantize_int8(q, scale, zero_point)
    assert isinstance(restored, Tensor) and restored.dtype == np.float32
    error = np.abs(restored.data.astype(np.float64) - data)
    assert error.max() <= scale / 2 + 1e-6 * max(abs(low), abs(high))


def test_quantize_constant_and_tensor_codes() -> None:
    for value in (0.0, 3.5, -2.0):
        q, scale, zero_point = quantize_int8(np.full((3, 3), value, dtype=np.float32))
        np.testing.assert_allclose(dequantize_int8(q, scale, zero_point).data, value, atol=1e-6)
    q, scale, zero_point = quantize_int8(np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_allclose(dequantize_int8(Tensor(q), scale, zero_point).data, [-1.0, 0.0, 1.0],
                               atol=scale / 2)


def test_quantized_linear_matches_linear_and_compresses_4x() -> None:
    np.random.seed(0)
    linear = Linear(64, 32)
    linear.bias.data = np.random.normal(size=32).astype(np.float32)
    x = Tensor(np.random.default_rng(1).normal(size=(10, 64)))
    quantized = QuantizedLinear(linear)
    assert quantized.parameters() == []
    reference = linear(x).data
    relative = np.abs(quantized(x).data - reference).max() / np.abs(reference).max()
    assert relative < 0.02
    usage = quantized.memory_usage()
    assert usage["original_bytes"] == 4 * (64 * 32 + 32)
    assert usage["quantized_bytes"] == 64 * 32 + 32
    assert usage["compression_ratio"] == pytest.approx(4.0)
    quantized.calibrate([x.data[:5], x.data[5:]])
    assert quantized.input_scale == pytest.approx((x.data.max() - x.data.min()) / 255)
    relative = np.abs(quantized(x).data - reference).max() / np.abs(reference).max()
    assert relative < 0.05


@pytest.mark.parametrize("make", [mlp, BareModel], ids=["sequential", "bare-model"])
@pytest.mark.parametrize("calibrate", [False, True])
def test_quantize_model_replaces_linears(make: type, calibrate: bool) -> None:
    model = make()
    width = model.layers[0].weight.shape[0]
    x = Tensor(np.random.default_rng(2).normal(size=(32, width)))
    before = model(x).data
    result = quantize_model(model, calibration_data=x if calibrate else None)
    linears = sum(isinstance(layer, QuantizedLinear) for layer in model.layers)
    assert result["quantized_layers"] == linears >= 2
    assert not any(isinstance(layer, Linear) for layer in model.layers)
    assert result["compression_ratio"] == pytest.approx(4.0)
    after = model(x).data
    assert np.abs(after - before).max() < 0.05 * np.abs(before).max()


# ------------------------------------------------------------------------------------ compression
def _weights(model: object) -> list[np.ndarray]:
    return [p.data for p in model.parameters() if p.data.ndim >= 2]


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9])
def test_magnitude_prune_reaches_the_requested_sparsity_globally(sparsity: float) -> None:
    model = mlp()
    original = [w.copy() for w in _weights(model)]
    biases = [p.data.copy() for p in model.parameters() if p.data.ndim == 1]
    magnitude_prune(model, sparsity=sparsity)
    weights = _weights(model)
    total = sum(w.size for w in weights)
    zeros = sum(int((w == 0).sum()) for w in weights)
    assert zeros == round(sparsity * total)
    for b, p in zip(biases, [p for p in model.parameters() if p.data.ndim == 1], strict=True):
        np.testing.assert_array_equal(p.data, b)  # biases intact
    # One global threshold: every kept weight is at least as large as every pruned one.
    kept = np.concatenate([np.abs(o[w != 0]) for o, w in zip(original, weights, strict=True)])
    pruned = np.concatenate([np.abs(o[w == 0]) for o, w in zip(original, weights, strict=True)])
    if kept.size and pruned.size:
        assert kept.min() >= pruned.max()
    all_params = sum(p.data.size for p in model.parameters())
    assert measure_sparsity(model) == pytest.approx(zeros / all_params)


def test_magnitude_prune_per_layer_and_on_a_bare_model() -> None:
    model = mlp()
    magnitude_prune(model, sparsity=0.5, per_layer=True)
    for w in _weights(model):
        assert int((w == 0).sum()) == round(0.5 * w.size)
    bare = BareModel()
    magnitude_prune(bare, 0.75)
    # 78 of 104 weights pruned; the 11 biases are zero-initialised and count too (all parameters).
    assert measure_sparsity(bare) == pytest.approx((78 + 11) / 115)
    with pytest.raises(ValueError):
        magnitude_prune(bare, 1.5)


def test_structured_prune_removes_whole_output_units() -> None:
    model = mlp()
    conv = Conv2d(2, 6, 3)
    conv.bias.data = np.arange(1, 7, dtype=np.float32)
    model.layers.append(conv)
    first = model.layers[0]
    norms = np.linalg.norm(first.weight.data, axis=0)
    weakest = np.argsort(norms)[:16]
    filter_norms = np.linalg.norm(conv.weight.data.reshape(6, -1), axis=1)
    structured_prune(model, prune_ratio=0.5)
    dead = np.flatnonzero(np.all(first.weight.data == 0, axis=0))
    np.testing.assert_array_equal(np.sort(dead), np.sort(weakest))
    assert np.all(first.bias.data[dead] == 0) and np.all(first.bias.data[np.setdiff1d(range(32), dead)] != 0)
    dead_filters = np.flatnonzero(np.all(conv.weight.data.reshape(6, -1) == 0, axis=1))
    np.testing.assert_array_equal(np.sort(dead_filters), np.sort(np.argsort(filter_norms)[:3]))
    assert 0.4 < measure_sparsity(model) < 0.6


# ----------------------------------------------------------------------------------- memoization
def test_kv_cache_update_get_advance_reset() -> None:
    cache = KVCache(batch_size=2, max_seq_len=4, num_layers=3, num_heads=2, head_dim=5)
    assert cache.keys.dtype == np.float32 and cache.keys.shape == (3, 2, 2, 4, 5)
    rng = np.random.default_rng(0)
    written = []
    for _ in range(3):
        k, v = rng.normal(size=(2, 2, 1, 5)), rng.normal(size=(2, 2, 1, 5))
        for layer in range(3):
            cache.update(layer, Tensor(k) if layer else k, Tensor(v))
        cache.advance()
        written.append((k, v))
    keys, values = cache.get(1)
    assert isinstance(keys, Tensor) and keys.shape == (2, 2, 3, 5) and cache.seq_pos == 3
    np.testing.assert_allclose(keys.data, np.concatenate([k for k, _ in written], axis=2), rtol=1e-6)
    np.testing.assert_allclose(values.data, np.concatenate([v for _, v in written], axis=2), rtol=1e-6)
    k4 = rng.normal(size=(2, 2, 1, 5))
    cache.update(0, k4, k4)
    assert cache.get(0)[0].shape[2] == 4 and cache.get(1)[0].shape[2] == 3  # filled positions per layer
    cache.advance()
    with pytest.raises(ValueError, match="full"):
        cache.update(0, k4, k4)
    with pytest.raises(ValueError, match="layer_idx"):
        cache.get(3)
    with pytest.raises(ValueError):
        cache.update(0, rng.normal(size=(2, 3, 1, 5)), rng.normal(size=(2, 3, 1, 5)))
    cache.reset()
    assert cache.seq_pos == 0 and cache.get(0)[0].shape == (2, 2, 0, 5) and not cache.keys.any()


# ---------------------------------------------------------------------------------- acceleration
def test_vectorized_and_tiled_matmul() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(70, 50)).astype(np.float32), rng.normal(size=(50, 90)).astype(np.float32)
    expected = a.astype(np.float64) @ b
    for result in (vectorized_matmul(a, b), tiled_matmul(Tensor(a), Tensor(b), tile_size=16),
                   tiled_matmul(a, b), tiled_matmul(a, b, tile_size=7)):
        assert isinstance(result, Tensor) and result.dtype == np.float32
        np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-4)
    batched = rng.normal(size=(3, 20, 30)).astype(np.float32)
    np.testing.assert_allclose(tiled_matmul(batched, b[:30, :10], tile_size=8).data,
                               batched.astype(np.float64) @ b[:30, :10], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError):
        tiled_matmul(a, a)
    x, w = Tensor(a[:3, :4], requires_grad=True), Tensor(b[:4, :2], requires_grad=True)
    check_gradients(vectorized_matmul, [x, w])


def test_fused_gelu_matches_the_composed_gelu() -> None:
    x = np.linspace(-6, 6, 101).astype(np.float32)
    np.testing.assert_allclose(fused_gelu(x).data, Tensor(x).gelu().data, rtol=1e-6, atol=1e-7)
    assert fused_gelu(Tensor(x)).dtype == np.float32
    check_gradients(fused_gelu, [Tensor(np.random.default_rng(0).normal(size=(4, 5)), requires_grad=True)])


# -------------------------------------------------------------------------- benchmark and capstone
def test_benchmark_runs_every_model_on_every_dataset() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 20)).astype(np.float32), rng.integers(0, 4, 16)
    bench = Benchmark({"mlp": mlp(), "pruned": magnitude_prune(mlp(), 0.5)},
                      {"labelled": (x, y), "generated": lambda: Tensor(x[:8])}, warmup=1, iterations=5)
    results = bench.run()
    assert [r.name for r in results] == ["mlp/labelled", "mlp/generated", "pruned/labelled",
                                         "pruned/generated"]
    for r in results:
        assert isinstance(r, BenchmarkResult)
        assert r.median_latency_ms > 0 and r.mean_latency_ms > 0 and r.std_latency_ms >= 0
        assert r.throughput == pytest.approx(r.batch_size / (r.median_latency_ms / 1000))
        assert r.memory_mb >= 0
    assert 0 <= results[0].accuracy <= 1 and results[1].accuracy is None
    assert results[1].batch_size == 8
    json.dumps([r.to_dict() for r in results])
    assert len(bench.summary().splitlines()) == 4


def test_capstone_report_and_submission(tmp_path: object) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 20)).astype(np.float32), rng.integers(0, 4, 32)
    baseline = BenchmarkReport("baseline")
    metrics = baseline.benchmark_model(mlp(), x, y, warmup=1, iterations=5)
    assert metrics["parameters"] == Profiler().count_parameters(mlp())
    assert metrics["latency_ms"] > 0 and 0 <= metrics["accuracy"] <= 1
    model = mlp()
    quantize_model(model)
    optimized = BenchmarkReport("int8")
    optimized.benchmark_model(model, x, y, warmup=1, iterations=5)
    optimized.add_metric("size_mb", metrics["size_mb"] / 4)
    path = tmp_path / "submission.json"
    submission = generate_submission(baseline, optimized, student_name="ada", techniques=["quantization"],
                                     output_path=path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(submission))
    assert submission["baseline"]["metrics"]["parameters"] == metrics["parameters"]
    assert submission["improvements"]["compression_ratio"] == pytest.approx(4.0)
    assert submission["improvements"]["speedup"] > 0 and "accuracy_delta" in submission["improvements"]
    assert generate_submission({"latency_ms": 2.0})["baseline"]["metrics"] == {"latency_ms": 2.0}
