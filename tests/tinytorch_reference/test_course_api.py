"""The course's own names for the reference's features, so the reference is a drop-in for the course's
solution (benchmarks/course_tests.py): losses from core.training, `_grad_fn`, a Tensor assigned to
`.grad`, Quantizer, Compressor, Benchmark.run_latency_benchmark / measure_latency and TinyMLPerf."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch_reference.tinytorch.bench import Benchmark, TinyMLPerf
from tinytorch_reference.tinytorch.core import losses, training
from tinytorch_reference.tinytorch.core.activations import ReLU
from tinytorch_reference.tinytorch.core.layers import Linear, Sequential
from tinytorch_reference.tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch_reference.tinytorch.core.spatial import AvgPool2d, Conv2d, MaxPool2d
from tinytorch_reference.tinytorch.core.tensor import Tensor, no_grad
from tinytorch_reference.tinytorch.perf.compression import Compressor, magnitude_prune, measure_sparsity
from tinytorch_reference.tinytorch.perf.quantization import Quantizer, quantize_int8


def mlp(seed: int = 0) -> Sequential:
    np.random.seed(seed)
    return Sequential(Linear(20, 32), ReLU(), Linear(32, 4))


# ------------------------------------------------------------------------------- losses in training
def test_training_serves_the_losses_with_their_values_and_gradients() -> None:
    assert training.MSELoss is losses.MSELoss and training.CrossEntropyLoss is losses.CrossEntropyLoss
    pred = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = training.MSELoss()(pred, Tensor([1.0, 2.0, 4.0]))
    assert float(loss.data) == pytest.approx(1 / 3)
    loss.backward()
    np.testing.assert_allclose(pred.grad, [0.0, 0.0, -2 / 3], rtol=1e-6)  # 2 (pred - target) / n
    logits = Tensor([[10.0, 0.0, 0.0]])
    assert float(training.CrossEntropyLoss()(logits, Tensor([0])).data) < 1e-3
    assert float(training.CrossEntropyLoss()(logits, Tensor([2])).data) == pytest.approx(10.0, abs=1e-3)


# ---------------------------------------------------------------------------------------- _grad_fn
@pytest.mark.parametrize(("layer", "name"), [(Conv2d(2, 3, kernel_size=3, padding=1), "Conv2dBackward"),
                                              (MaxPool2d(2), "MaxPool2dBackward"),
                                              (AvgPool2d(2), "AvgPool2dBackward")])
def test_spatial_outputs_carry_a_named_grad_fn_that_is_their_backward(layer: object, name: str) -> None:
    x = Tensor(np.random.default_rng(0).normal(size=(2, 2, 6, 6)), requires_grad=True)
    out = layer(x)
    assert type(out._grad_fn).__name__ == name
    # Calling it is the op's backward: the input's share equals what backward() delivers.
    g = np.random.default_rng(1).normal(size=out.shape).astype(np.float32)
    direct = out._grad_fn(g)[0]
    out.backward(g)
    np.testing.assert_allclose(direct, x.grad, rtol=1e-6)


def test_grad_fn_is_none_off_the_graph() -> None:
    leaf = Tensor([1.0, 2.0], requires_grad=True)
    assert leaf._grad_fn is None
    assert (leaf * 2)._grad_fn is not None
    assert (Tensor([1.0, 2.0]) * 2)._grad_fn is None  # nothing to differentiate
    with no_grad():
        assert (leaf * 2)._grad_fn is None
        assert Conv2d(1, 1, 3)(Tensor(np.ones((1, 1, 4, 4)), requires_grad=True))._grad_fn is None


# ------------------------------------------------------------------------ a Tensor assigned to .grad
@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1), lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda p: Adam(p, lr=0.1, weight_decay=0.1), lambda p: AdamW(p, lr=0.1)])
def test_optimizers_take_a_tensor_grad_as_they_take_an_array(make: object) -> None:
    rng = np.random.default_rng(0)
    start, grads = rng.normal(size=(3, 4)), [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(3)]
    as_array, as_tensor = Tensor(start, requires_grad=True), Tensor(start, requires_grad=True)
    opt_array, opt_tensor = make([as_array]), make([as_tensor])
    for g in grads:
        as_array.grad, as_tensor.grad = g.copy(), Tensor(g.copy())
        opt_array.step()
        opt_tensor.step()
    assert not np.allclose(as_tensor.data, start)
    np.testing.assert_array_equal(as_tensor.data, as_array.data)


# -------------------------------------------------------------------------------------- Quantizer
def test_quantizer_round_trips_tensors_within_half_a_step() -> None:
    x = Tensor(np.random.default_rng(0).normal(size=(10, 10)))
    q, scale, zero_point = Quantizer.quantize_tensor(x)
    assert isinstance(q, Tensor)
    codes, *_ = quantize_int8(x)
    np.testing.assert_array_equal(q.data, codes)  # integer codes, in the Tensor's float32 storage
    assert q.data.min() >= -128 and q.data.max() <= 127 and np.all(q.data == np.round(q.data))
    back = Quantizer.dequantize_tensor(q, scale, zero_point)
    assert np.abs(back.data - x.data).max() <= scale / 2 + 1e-6


def test_quantizer_quantizes_a_model_and_compares_its_memory() -> None:
    model = mlp()
    x = Tensor(np.random.default_rng(0).normal(size=(8, 20)))
    before = model(x).data
    info = Quantizer.quantize_model(model, [x])
    assert info["quantized_layers"] == 2 and info["compression_ratio"] == pytest.approx(4.0)
    params = 20 * 32 + 32 + 32 * 4 + 4
    assert info["original_size_mb"] == pytest.approx(4 * params / 2**20)
    np.testing.assert_allclose(model(x).data, before, atol=0.1)
    comparison = Quantizer.compare_models(model, info)
    assert comparison["memory_saved_mb"] == pytest.approx(3 * params / 2**20)
    assert comparison["compression_ratio"] == pytest.approx(4.0)


# ------------------------------------------------------------------------------------- Compressor
def test_compressor_measures_and_prunes_like_the_functions() -> None:
    layer = Linear(4, 4, bias=False)
    layer.weight.data = np.array([[0, 0, 1, 1]] * 4, dtype=np.float32)
    model = type("Model", (), {"layers": [layer]})()  # the course's models: a `layers` list only
    assert Compressor.measure_sparsity(model) == pytest.approx(0.5)
    a, b = mlp(), mlp()
    Compressor.magnitude_prune(a, 0.7)
    magnitude_prune(b, 0.7)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert Compressor.measure_sparsity(a) == measure_sparsity(b) > 0.5


def test_compress_model_applies_the_configured_pruning_and_reports_sparsity() -> None:
    model = mlp()
    same, stats = Compressor.compress_model(model, {"magnitude_sparsity": 0.5, "structured_prune_ratio": 0.25})
    assert same is model and stats["original_sparsity"] == pytest.approx(36 / 804)  # the zero biases
    assert stats["final_sparsity"] == pytest.approx(measure_sparsity(model))
    assert stats["final_sparsity"] > (384 + 36) / 804  # half the 768 weights, then whole units
    assert np.count_nonzero(np.linalg.norm(model.layers[0].weight.data, axis=0) == 0) == 8  # 25% of 32
    assert stats["compression_ratio"] == pytest.approx(1 / (1 - stats["final_sparsity"]))
    with pytest.raises(ValueError, match="unknown"):
        Compressor.compress_model(mlp(), {"sparsity": 0.5})


# ------------------------------------------------------------------------------ Benchmark, TinyMLPerf
class ShapeRecorder:
    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.shapes.append(x.shape)
        return x * 2


def test_run_latency_benchmark_times_every_model_on_the_given_shape() -> None:
    first, second = ShapeRecorder(), ShapeRecorder()
    results = Benchmark({"a": first, "b": second}, [np.zeros((4, 3))], warmup=1, iterations=4) \
        .run_latency_benchmark(input_shape=(1, 10))
    assert list(results) == ["a", "b"]
    assert set(first.shapes) == set(second.shapes) == {(1, 10)}
    for r in results.values():
        assert r.mean == r.mean_latency_ms > 0 and r.median == r.median_latency_ms and r.std >= 0


def test_measure_latency_needs_no_models_or_datasets() -> None:
    model = ShapeRecorder()
    latency = Benchmark().measure_latency(model, Tensor(np.ones(10)), iterations=7)
    assert latency > 0
    assert len(model.shapes) == Benchmark().warmup + 7 + 1  # warm-up, timed calls, one for memory


def test_tiny_mlperf_runs_a_task_on_seeded_inputs_and_judges_latency() -> None:
    mlperf = TinyMLPerf(random_seed=3)
    assert mlperf.list_benchmarks() == ["keyword_spotting", "visual_wake_words", "anomaly_detection",
                                        "image_classification"]
    state = np.random.get_state()[1].copy()
    model = ShapeRecorder()
    result = mlperf.run_standard_benchmark(model, "anomaly_detection", num_runs=20)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the caller's random stream untouched
    assert set(model.shapes) == {(1, 640)} and len(model.shapes) == 2 + 20  # warm-up is 10% of the runs
    assert result["accuracy"] is None  # no labelled data ships with the reference
    assert result["mean_latency_ms"] > 0 and result["throughput_fps"] == pytest.approx(1000 / result["mean_latency_ms"])
    assert result["compliant"] == (result["p90_latency_ms"] <= 50.0)
    mlperf.benchmarks["anomaly_detection"]["max_latency_ms"] = 0.0
    assert not mlperf.run_standard_benchmark(model, "anomaly_detection", num_runs=5)["compliant"]
    with pytest.raises(ValueError, match="unknown benchmark"):
        mlperf.run_standard_benchmark(model, "imagenet")


def test_tiny_mlperf_runs_every_task_a_model_can_take() -> None:
    np.random.seed(0)
    model = Linear(640, 2)  # takes anomaly_detection's input only
    results = TinyMLPerf().run_all_benchmarks(model, num_runs=3)
    assert list(results) == TinyMLPerf().list_benchmarks()
    assert "error" not in results["anomaly_detection"] and "error" in results["keyword_spotting"]
    report = TinyMLPerf().generate_compliance_report(results).splitlines()
    assert len(report) == 4 and report[2].startswith("anomaly_detection: p90")
    assert report[0].startswith("keyword_spotting: not run")
