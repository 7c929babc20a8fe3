"""Module 15 (quantization) probes: int8 codes, their scale and zero point, and quantized layers' outputs.

Every float input is drawn from the challenge (`data(...)` below); the checks draw the same numbers again
and decide from the codes the student returned, never from a number the probe computed about them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, is_instance, plain, rng, type_name, values_later, view_later


def data(challenge: dict[str, Any]) -> np.ndarray:
    """The tensor to quantize: uniform over [low, high], which straddles 0 asymmetrically, with both ends
    present so the range is exactly [low, high]."""
    r = rng(challenge)
    low, high = challenge["low"], challenge["high"]
    x = r.uniform(low, high, size=tuple(challenge["shape"]))
    flat = x.reshape(-1)
    flat[r.choice(flat.size, size=2, replace=False)] = [low, high]
    return float32(x)


def linear_weights(challenge: dict[str, Any], d_in: int, d_out: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    r = rng(challenge, stream)
    weight = r.standard_normal((d_in, d_out)) / np.sqrt(d_in)
    # Biases of both signs: the course's quantize_int8 clips its zero point to int8, which is only exact
    # for tensors that straddle 0, and a handful of random biases can all fall on one side.
    signs = r.permutation(np.resize([1.0, -1.0], d_out))
    return float32(weight), float32(r.uniform(0.05, 0.5, d_out) * signs)


def inputs(challenge: dict[str, Any], d_in: int) -> np.ndarray:
    return float32(rng(challenge, 99).standard_normal((challenge["batch"], d_in)))


def _set(layer: Any, weight: np.ndarray, bias: np.ndarray) -> Any:
    # Replacing `.data` keeps the Tensor objects (and any list parameters() returns) the layer holds.
    layer.weight.data = weight.copy()
    layer.bias.data = bias.copy()
    return layer


def _quantized(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    q, scale, zero_point = tt.quantize_int8(tt.Tensor(data(challenge)))
    return {"q": values_later(q), "scale": values_later(scale), "zero_point": values_later(zero_point)}


def test_quantize_int8_codes_in_range(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return _quantized(tt, challenge)


def test_quantize_int8_round_trip(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return _quantized(tt, challenge)


def test_quantize_int8_scale_matches_range(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return _quantized(tt, challenge)


def test_dequantize_int8_formula(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    codes = rng(challenge).integers(-128, 128, size=tuple(challenge["shape"])).astype(np.int8)
    # Hand the codes over in the form this package's own quantize_int8 returns them (a Tensor in the
    # course, a numpy array in other editions).
    try:
        sample = tt.quantize_int8(tt.Tensor(float32([[-1.0, 2.0]])))[0]
        tt.settle()
        as_array = is_instance(sample, "ndarray")
    except Exception:
        as_array = False
    out = tt.dequantize_int8(codes if as_array else tt.Tensor(codes), challenge["scale"], challenge["zero_point"])
    return {"dequantized": values_later(out)}


def test_quantized_linear_matches_float(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    d_in, d_out = challenge["in_features"], challenge["out_features"]
    layer = _set(tt.Linear(d_in, d_out), *linear_weights(challenge, d_in, d_out, 1))
    quantized = tt.QuantizedLinear(layer)
    x = tt.Tensor(inputs(challenge, d_in))
    quantized.calibrate([x])
    return {"output": values_later(quantized.forward(x))}


def test_quantized_linear_memory_usage(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    d_in, d_out = challenge["in_features"], challenge["out_features"]
    layer = _set(tt.Linear(d_in, d_out), *linear_weights(challenge, d_in, d_out, 1))
    usage = tt.QuantizedLinear(layer).memory_usage()
    if not is_instance(usage, "dict"):
        return {"usage_type": type_name(usage)}
    present = plain(view_later("as_list", usage))  # its keys, in one round trip
    keys = ("original_bytes", "quantized_bytes", "compression_ratio")
    return {"usage_type": "dict", "usage": {k: values_later(usage[k]) for k in keys if k in present}}


def test_quantize_model(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    sizes = challenge["sizes"]
    first = _set(tt.Linear(sizes[0], sizes[1]), *linear_weights(challenge, sizes[0], sizes[1], 1))
    second = _set(tt.Linear(sizes[1], sizes[2]), *linear_weights(challenge, sizes[1], sizes[2], 2))
    model = tt.new("Stack", [first, tt.new("Activation", tt.ReLU()), second])
    x = inputs(challenge, sizes[0])
    result = tt.quantize_model(model, [tt.Tensor(x)])
    layers = model.layers
    about = [view_later("same", layers[0], first), view_later("same", layers[2], second),
             view_later("type_name", result), view_later("is_instance", result, "dict")]
    output = values_later(model.forward(tt.Tensor(x)))
    kept_first, kept_second, result_type, result_is_dict = tt.materialize(about)  # one round trip
    artefacts: dict[str, Any] = {"result_type": result_type, "replaced": [not kept_first, not kept_second],
                                 "output": output}
    if result_is_dict and "compression_ratio" in plain(view_later("as_list", result)):
        artefacts["compression_ratio"] = values_later(result["compression_ratio"])
    return artefacts
