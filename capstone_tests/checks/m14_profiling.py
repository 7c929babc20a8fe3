"""Module 14 (profiling) checks: parameter counts and FLOPs against closed forms, latency as a sane number.

FLOP conventions differ between editions and both are defensible: one multiply-add is 2 FLOPs in the
course (a Linear(in, out) costs 2*in*out per sample) and 1 in the "MACs" habit; some count the bias
additions, and some report the whole batch instead of one sample. `count_flops` passes when it equals one
of those conventions; anything else (a count off by the layer's shape) fails. No timing threshold is
asked of `measure_latency`: only a positive, finite figure taken over real forward passes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..registry import check
from . import expect


def _linear_count(d_in: int, d_out: int, bias: bool = True) -> int:
    return d_in * d_out + (d_out if bias else 0)


def _shapes_total(artefacts: dict[str, Any]) -> int:
    shapes = artefacts["shapes"]
    return int(sum(math.prod(int(n) for n in shape) for shape in shapes))


def _expect_linear_shapes(artefacts: dict[str, Any], expected: int, description: str) -> None:
    # A Linear with the wrong number of parameters is module 03's fault, not the profiler's.
    total = _shapes_total(artefacts)
    expect.equal(total, expected,
                 f"{description} holds {total} parameters in tensors of shapes {artefacts['shapes']}, "
                 f"expected {expected}: Linear(in, out) must hold a weight (in, out) and a bias (out,)",
                 module=3, given={"model": description})


def _expect_count(artefacts: dict[str, Any], expected: int, description: str) -> None:
    count = expect.number(artefacts, "count", what="count_parameters(...)", module=14)
    with expect.given(model=description, **{"parameter shapes": artefacts["shapes"]}):
        expect.that(count == expected,
                    f"count_parameters({description}) returned {count:g}, expected {expected}: it must add up "
                    f"the number of entries (.data.size) of every parameter tensor, weights and biases",
                    module=14, expected=expected, got=count)


def _sizes(r: np.random.Generator) -> dict[str, Any]:
    return {"sizes": [int(n) for n in r.integers(2, 13, size=3)]}


@check(module=14, challenge=_sizes)
def test_count_parameters_model(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    a, b, c = challenge["sizes"]
    expected = _linear_count(a, b) + _linear_count(b, c)
    _expect_linear_shapes(artefacts, expected, f"Linear({a}, {b}) and Linear({b}, {c})")
    _expect_count(artefacts, expected, f"a model of Linear({a}, {b}), ReLU, Linear({b}, {c})")


def _one_layer(r: np.random.Generator) -> dict[str, Any]:
    return {"in_features": int(r.integers(2, 17)), "out_features": int(r.integers(2, 17))}


@check(module=14, challenge=_one_layer)
def test_count_parameters_linear(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    d_in, d_out = challenge["in_features"], challenge["out_features"]
    expected = _linear_count(d_in, d_out)
    _expect_linear_shapes(artefacts, expected, f"Linear({d_in}, {d_out})")
    _expect_count(artefacts, expected, f"Linear({d_in}, {d_out})")


@check(module=14, challenge=_one_layer)
def test_count_parameters_without_bias(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    d_in, d_out = challenge["in_features"], challenge["out_features"]
    expected = _linear_count(d_in, d_out, bias=False)
    total = _shapes_total(artefacts)
    expect.equal(total, expected,
                 f"Linear({d_in}, {d_out}, bias=False) holds {total} parameters in tensors of shapes "
                 f"{artefacts['shapes']}, expected only the weight's {expected}", module=3,
                 given={"model": f"Linear({d_in}, {d_out}, bias=False)", "parameter shapes": artefacts["shapes"]})
    _expect_count(artefacts, expected, f"a model holding Linear({d_in}, {d_out}, bias=False)")


def _accepted_flops(d_in: int, d_out: int, batch: int) -> list[tuple[int, int]]:
    """[low, high] per convention: 1 or 2 FLOPs per multiply-add, per sample or per batch, bias adds
    counted 0 to 2 times per output."""
    ranges = []
    for per_mac in (1, 2):
        for rows in (1, batch):
            base = per_mac * d_in * d_out * rows
            ranges.append((base, base + 2 * d_out * rows))
    return ranges


def _flops_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"in_features": int(r.integers(3, 40)), "out_features": int(r.integers(3, 40)),
            "batch": int(r.integers(2, 9))}


@check(module=14, challenge=_flops_challenge)
def test_count_flops_linear(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    d_in, d_out, batch = challenge["in_features"], challenge["out_features"], challenge["batch"]
    flops = expect.number(artefacts, "flops", what="count_flops(Linear, input_shape)", module=14)
    accepted = _accepted_flops(d_in, d_out, batch)
    given = {"layer": f"Linear({d_in}, {d_out})", "input_shape": [batch, d_in]}
    expect.that(any(low <= flops <= high for low, high in accepted),
                f"count_flops(Linear({d_in}, {d_out}), ({batch}, {d_in})) returned {flops:g}, expected "
                f"2*in*out = {2 * d_in * d_out} per sample (in*out = {d_in * d_out} if one multiply-add "
                f"counts once, times {batch} if the whole batch is counted)",
                module=14, accepted=accepted, example=expect.example(2 * d_in * d_out, flops, given))


def _widths_challenge(r: np.random.Generator) -> dict[str, Any]:
    first = int(r.integers(2, 12))
    return {"in_features": int(r.integers(3, 30)), "batch": int(r.integers(1, 5)),
            "widths": [first, first * int(r.integers(2, 5))]}


@check(module=14, challenge=_widths_challenge)
def test_count_flops_proportional_to_width(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    flops = expect.array(artefacts, "flops", shape=(2,), what="count_flops of two Linear layers", module=14)
    narrow, wide = challenge["widths"]
    expect.that(bool(np.all(flops > 0)),
                f"count_flops returned {flops.tolist()} for Linear layers: a Linear layer costs FLOPs",
                module=14)
    ratio = flops[1] / flops[0]
    given = {"layers": [f"Linear({challenge['in_features']}, {width})" for width in (narrow, wide)],
             "input_shape": [challenge["batch"], challenge["in_features"]]}
    expect.that(abs(ratio - wide / narrow) <= 1e-6 * wide / narrow,
                f"count_flops grew {ratio:.4g}x when a Linear layer's output width grew {wide / narrow:g}x "
                f"({narrow} -> {wide}): a Linear's FLOPs are proportional to in*out",
                module=14, flops=flops.tolist(), example=expect.example(wide / narrow, ratio, given))


def _latency_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"in_features": int(r.integers(16, 33)), "out_features": int(r.integers(16, 33)),
            "batch": int(r.integers(8, 17)), "warmup": int(r.integers(1, 4)), "iterations": int(r.integers(3, 7))}


def _latency(artefacts: dict[str, Any]) -> float:
    latency = artefacts.get("latency")
    if isinstance(latency, np.ndarray) and latency.size == 1 and latency.dtype.kind in "fiu":
        latency = float(latency.reshape(-1)[0])
    expect.that(isinstance(latency, int | float) and not isinstance(latency, bool),
                f"measure_latency returned {latency!r}: it must return one number (milliseconds, median of "
                f"the timed runs)", module=14)
    return float(latency)


@check(module=14, challenge=_latency_challenge)
def test_measure_latency_positive(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    latency = _latency(artefacts)
    expect.that(math.isfinite(latency) and latency > 0,
                f"measure_latency returned {latency!r}: a forward pass takes a positive, finite time "
                f"(use time.perf_counter() around each run)", module=14)


@check(module=14, challenge=_latency_challenge)
def test_measure_latency_runs_the_model(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    warmup, iterations = challenge["warmup"], challenge["iterations"]
    calls = artefacts.get("calls")
    expect.that(isinstance(calls, int) and calls >= iterations,
                f"measure_latency(model, x, warmup={warmup}, iterations={iterations}) ran the model {calls} "
                f"times: it must time `iterations` real forward passes", module=14)
    # Generous upper bound: an extra shape probe is fine, ignoring the arguments (e.g. always 100) is not.
    expect.that(calls <= 2 * (warmup + iterations) + 2,
                f"measure_latency(model, x, warmup={warmup}, iterations={iterations}) ran the model {calls} "
                f"times: it must honour its warmup and iterations arguments", module=14)
    latency = _latency(artefacts)
    expect.that(math.isfinite(latency) and latency > 0,
                f"measure_latency returned {latency!r}: expected a positive, finite time", module=14)
