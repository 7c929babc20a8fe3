"""Module 15 (quantization) checks: every verdict is recomputed in float64 from the codes returned.

The rule for `quantize_int8` (fair to both schemes the course's editions teach): a tensor that straddles 0
must come back from `(q - zero_point) * scale` within half a step (scale / 2) everywhere, and the step
must fit the tensor's actual range: `(max - min) / 255` (asymmetric, the course's solution, any zero
point), or `max|x| / 127` with zero point 0 (symmetric). A scale from the wrong range (the maximum alone,
or the absolute maximum combined with an asymmetric zero point) fails with that cause named.

Layers are compared with the float layer computed here from the challenge's weights: int8 weights cost
about 0.4% relative error, calibrated int8 inputs about as much again, so 3% (5% for a model) is a
bound a correct implementation meets with a wide margin and a wrong scale does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..probes import m15_quantization as probes
from ..registry import check
from . import expect


def _data_challenge(r: np.random.Generator) -> dict[str, Any]:
    # One side of 0 is 2.5-4x wider than the other, so range-based and max-based scales differ clearly.
    small = float(r.uniform(0.5, 1.5))
    big = small * float(r.uniform(2.5, 4.0))
    low, high = (-small, big) if r.random() < 0.5 else (-big, small)
    return {"shape": [int(r.integers(3, 12)), int(r.integers(3, 12))],
            "low": round(low, 3), "high": round(high, 3)}


def _codes(challenge: dict[str, Any], artefacts: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float, float]:
    x = probes.data(challenge).astype(np.float64)
    q = expect.array(artefacts, "q", shape=x.shape, what="the codes quantize_int8 returned", module=15)
    scale = expect.number(artefacts, "scale", what="the scale quantize_int8 returned", module=15)
    zero_point = expect.number(artefacts, "zero_point", what="the zero point quantize_int8 returned", module=15)
    expect.that(scale > 0, f"quantize_int8 returned scale {scale:g}: the scale must be positive", module=15)
    return x, q, scale, zero_point


@check(module=15, challenge=_data_challenge)
def test_quantize_int8_codes_in_range(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    _, q, _, zero_point = _codes(challenge, artefacts)
    expect.that(bool(np.all(q == np.round(q))),
                "quantize_int8 returned codes with fractional parts: round(x / scale) + zero_point to whole "
                "numbers", module=15, got=q.reshape(-1)[:6].tolist())
    expect.that(float(q.min()) >= -128 and float(q.max()) <= 127,
                f"quantize_int8 returned codes from {q.min():g} to {q.max():g}: clip them to the int8 range "
                f"[-128, 127]", module=15)
    expect.that(zero_point == round(zero_point),
                f"quantize_int8 returned zero point {zero_point:g}: it must be a whole number so that 0.0 is "
                f"represented exactly", module=15)


@check(module=15, challenge=_data_challenge)
def test_quantize_int8_round_trip(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x, q, scale, zero_point = _codes(challenge, artefacts)
    low, high = float(x.min()), float(x.max())
    # Half a step everywhere but near the ends, where 1.5 steps are allowed: a scale of (max - min) / 256
    # (an easy off-by-one with the course's INT8_RANGE = 256 constant) plus the zero point's rounding
    # lose the top value by up to that much, harmlessly.
    near_end = (x < low + 2 * scale) | (x > high - 2 * scale)
    bound = np.where(near_end, 1.5, 0.5) * scale * (1 + 1e-3) + 1e-7
    error = np.abs((q - zero_point) * scale - x)
    worst = int(np.argmax(error - bound))
    bound = float(bound.reshape(-1)[worst])
    if float(error.reshape(-1)[worst]) > bound:
        reach = ((-128 - zero_point) * scale, (127 - zero_point) * scale)
        focus = tuple(int(i) for i in np.unravel_index(worst, x.shape))
        # Dequantizing the codes should give x back, up to the rounding: that is the example's "expected".
        example = expect.example(x, (q - zero_point) * scale, {"x": x, "codes q": q, "scale": scale,
                                                               "zero_point": zero_point}, focus)
        cause = (f"the codes only reach [{reach[0]:.4g}, {reach[1]:.4g}] but the data spans [{low:.4g}, "
                 f"{high:.4g}]: compute the scale from the whole range, (max - min) / 255, and the zero point "
                 f"from the minimum" if reach[0] > low + bound or reach[1] < high - bound else
                 "the codes are not round(x / scale) + zero_point")
        raise expect.CheckFailed(
            f"dequantizing quantize_int8's codes misses the input by {error.reshape(-1)[worst]:.4g} at value "
            f"{x.reshape(-1)[worst]:.4g}, more than rounding to the nearest step allows ({bound:.4g}): {cause}",
            15, scale=scale, zero_point=zero_point, example=example)


@check(module=15, challenge=_data_challenge)
def test_quantize_int8_scale_matches_range(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x, _, scale, zero_point = _codes(challenge, artefacts)
    low, high = float(x.min()), float(x.max())
    asymmetric = (high - low) / 255
    absmax = max(abs(low), abs(high))
    if abs(scale - asymmetric) <= 0.01 * asymmetric:
        return
    symmetric = absmax / 128 * 0.99 <= scale <= absmax / 127 * 1.01
    if symmetric and zero_point == 0:
        return
    example = expect.example(asymmetric, scale, {"x": x, "min": low, "max": high})
    if symmetric:
        raise expect.CheckFailed(
            f"quantize_int8's scale {scale:.4g} is max|x| / 127 (the symmetric scheme's) but its zero point is "
            f"{zero_point:g}: with an asymmetric zero point the scale must be (max - min) / 255 = "
            f"{asymmetric:.4g}, or keep the zero point 0", 15, example=example)
    raise expect.CheckFailed(
        f"quantize_int8's scale {scale:.4g} does not fit the tensor's range [{low:.4g}, {high:.4g}]: expected "
        f"(max - min) / 255 = {asymmetric:.4g} (or max|x| / 127 = {absmax / 127:.4g} with zero point 0)", 15,
        example=example)


def _dequantize_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"shape": [int(r.integers(2, 8)), int(r.integers(2, 8))], "scale": round(float(r.uniform(0.005, 0.1)), 5),
            "zero_point": int(r.integers(-20, 21))}


@check(module=15, challenge=_dequantize_challenge)
def test_dequantize_int8_formula(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    codes = probes.rng(challenge).integers(-128, 128, size=tuple(challenge["shape"])).astype(np.float64)
    expected = (codes - challenge["zero_point"]) * challenge["scale"]
    got = expect.array(artefacts, "dequantized", shape=expected.shape, what="dequantize_int8(q, scale, zero_point)",
                       module=15)
    given = {"q": codes, "scale": challenge["scale"], "zero_point": challenge["zero_point"]}
    wrapped = np.abs(got - expected) > 100 * challenge["scale"]
    if np.any(wrapped):
        raise expect.CheckFailed("dequantize_int8 is off by more than 100 steps for some codes: subtract the zero "
                                 "point after converting the int8 codes to a wider type (int8 arithmetic wraps "
                                 "around)", 15, example=expect.example(expected, got, given,
                                                                       tuple(int(i) for i in np.argwhere(wrapped)[0])))
    expect.close(got, expected, "dequantize_int8(q, scale, zero_point), expected (q - zero_point) * scale",
                 module=15, rtol=1e-5, atol=1e-6, given=given)


def _layer_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"in_features": int(r.integers(16, 33)), "out_features": int(r.integers(8, 17)),
            "batch": int(r.integers(4, 9))}


def _worst_example(expected: np.ndarray, got: np.ndarray, given: dict[str, Any]) -> dict[str, Any]:
    worst = np.unravel_index(int(np.argmax(np.abs(got - expected))), expected.shape)
    return expect.example(expected, got, given, tuple(int(i) for i in worst))


def _relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.linalg.norm(got - expected) / max(np.linalg.norm(expected), 1e-12))


@check(module=15, challenge=_layer_challenge)
def test_quantized_linear_matches_float(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    d_in, d_out = challenge["in_features"], challenge["out_features"]
    weight, bias = probes.linear_weights(challenge, d_in, d_out, 1)
    x = probes.inputs(challenge, d_in).astype(np.float64)
    expected = x @ weight.astype(np.float64) + bias.astype(np.float64)
    got = expect.array(artefacts, "output", shape=expected.shape, what="QuantizedLinear.forward(x)", module=15)
    error = _relative_error(got, expected)
    if error > 0.03:
        raise expect.CheckFailed(
            f"QuantizedLinear's output differs from the float Linear's by {error:.1%} (relative): int8 weights should "
            f"cost well under 3%; check the weight scale and zero point, and that forward dequantizes with "
            f"(q - zero_point) * scale", 15, relative_error=error,
            example=_worst_example(expected, got, {"x": x, "float weight": weight, "float bias": bias}))


@check(module=15, challenge=_layer_challenge)
def test_quantized_linear_memory_usage(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    d_in, d_out = challenge["in_features"], challenge["out_features"]
    expect.that(artefacts.get("usage_type") == "dict",
                f"QuantizedLinear.memory_usage() returned a {artefacts.get('usage_type')}, expected a dict with "
                f"original_bytes, quantized_bytes and compression_ratio", module=15)
    usage = artefacts["usage"]
    for key in ("original_bytes", "quantized_bytes", "compression_ratio"):
        expect.that(key in usage, f"QuantizedLinear.memory_usage() has no {key!r}", module=15)
    original = expect.number(usage, "original_bytes", what="memory_usage()['original_bytes']", module=15)
    quantized = expect.number(usage, "quantized_bytes", what="memory_usage()['quantized_bytes']", module=15)
    ratio = expect.number(usage, "compression_ratio", what="memory_usage()['compression_ratio']", module=15)
    count = d_in * d_out + d_out
    expect.that(original in (4 * count, 4 * d_in * d_out),
                f"memory_usage() says the float32 layer takes {original:g} bytes; Linear({d_in}, {d_out}) has "
                f"{count} float32 parameters, {4 * count} bytes", module=15,
                example=expect.example(4 * count, original, {"layer": f"Linear({d_in}, {d_out})"}))
    # Scales and zero points are a few bytes per tensor; some editions count them.
    expect.that(original / 4 <= quantized <= original / 4 + 64,
                f"memory_usage() says the int8 layer takes {quantized:g} bytes; its {original / 4:g} int8 codes "
                f"take 1 byte each (plus a few bytes of scales)", module=15)
    expect.that(abs(ratio - original / quantized) <= 1e-3 * ratio and 3.5 <= ratio <= 4.0 + 1e-9,
                f"memory_usage()['compression_ratio'] is {ratio:.4g}: it is original_bytes / quantized_bytes, "
                f"about 4 for float32 -> int8", module=15)


def _model_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"sizes": [int(r.integers(8, 17)), int(r.integers(8, 17)), int(r.integers(3, 7))],
            "batch": int(r.integers(6, 13))}


@check(module=15, challenge=_model_challenge)
def test_quantize_model(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    a, b, c = challenge["sizes"]
    w1, b1 = (v.astype(np.float64) for v in probes.linear_weights(challenge, a, b, 1))
    w2, b2 = (v.astype(np.float64) for v in probes.linear_weights(challenge, b, c, 2))
    x = probes.inputs(challenge, a).astype(np.float64)
    expected = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
    if "compression_ratio" in artefacts:
        ratio = expect.number(artefacts, "compression_ratio", what="quantize_model(...)['compression_ratio']",
                              module=15)
        expect.that(3.5 <= ratio <= 4.0 + 1e-6,
                    f"quantize_model reported compression_ratio {ratio:.4g}: int8 stores each float32 parameter "
                    f"in 1 byte instead of 4, so the ratio is about 4", module=15)
    else:
        # One edition returns None and replaces the Linear layers in place; then the replacement must show.
        expect.that(artefacts.get("result_type") in ("NoneType", "Stack"),
                    f"quantize_model returned a {artefacts.get('result_type')} without 'compression_ratio': "
                    f"return a dict with the compression_ratio (or None after quantizing in place)", module=15)
        expect.that(all(artefacts.get("replaced", [])),
                    "quantize_model returned no statistics and left the model's Linear layers in place: it must "
                    "replace each Linear in model.layers with a QuantizedLinear", module=15)
    got = expect.array(artefacts, "output", shape=expected.shape, what="the quantized model's output", module=15)
    error = _relative_error(got, expected)
    if error > 0.05:
        raise expect.CheckFailed(
            f"after quantize_model the model's output differs from the float model's by {error:.1%} (relative): "
            f"int8 quantization should cost a few tenths of a percent", 15, relative_error=error,
            example=_worst_example(expected, got, {"x": x, "model": f"Linear({a}, {b}) -> ReLU -> Linear({b}, {c})"}))
