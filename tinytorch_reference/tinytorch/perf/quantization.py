"""Module 15: quantization (float32 -> int8, asymmetric, one scale per tensor).

A tensor's actual range [min, max] is mapped onto the 256 int8 codes [-128, 127]:
    scale = (max - min) / 255,   zero_point = -128 - round(min / scale),
    q = clip(round(x / scale) + zero_point, -128, 127),   x ~ (q - zero_point) * scale.
Since zero_point is an integer, (q - zero_point) * scale = round(x / scale) * scale, so every value in
range comes back within scale / 2. The zero point is kept as a Python int and not clipped to int8: for a
range far from 0 (all weights in [100, 101], say) clipping it would break that bound.

QuantizedLinear stores int8 weights and bias and computes with their dequantized values ("fake
quantization": the arithmetic is float32, the storage and its rounding error are int8's). After
`calibrate`, inputs are also rounded through the int8 grid observed on the calibration samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..core.layers import Linear
from ..core.tensor import FLOAT, Tensor

__all__ = ["QuantizedLinear", "Quantizer", "dequantize_int8", "quantize_int8", "quantize_model"]

QMIN, QMAX = -128, 127


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=FLOAT)


def _range_params(low: float, high: float) -> tuple[float, int]:
    """(scale, zero_point) mapping [low, high] onto [-128, 127]."""
    if high == low:
        # A constant: choose the scale so the constant itself is exactly a code (127 or -127).
        scale = abs(high) / QMAX if high != 0 else 1.0
        return scale, 0
    scale = (high - low) / (QMAX - QMIN)
    return scale, int(QMIN - round(low / scale))


def _quantize(data: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    codes = np.round(data.astype(np.float64) / scale) + zero_point
    return np.clip(codes, QMIN, QMAX).astype(np.int8)


def quantize_int8(t: Any) -> tuple[np.ndarray, float, int]:
    """(int8 array, scale, zero_point) over the tensor's own min..max."""
    data = _array(t)
    if data.size == 0:
        return np.zeros(data.shape, dtype=np.int8), 1.0, 0
    scale, zero_point = _range_params(float(data.min()), float(data.max()))
    return _quantize(data, scale, zero_point), scale, zero_point


def dequantize_int8(q: Any, scale: float, zero_point: int) -> Tensor:
    codes = q.data if isinstance(q, Tensor) else np.asarray(q)
    # int32 before subtracting: int8 - zero_point would wrap around.
    return Tensor(((codes.astype(np.int32) - int(zero_point)) * float(scale)).astype(FLOAT))


class QuantizedLinear:
    """An inference-only int8 copy of a Linear layer."""

    def __init__(self, linear: Linear) -> None:
        self.in_features, self.out_features = linear.weight.shape
        self.q_weight, self.weight_scale, self.weight_zero_point = quantize_int8(linear.weight)
        self.has_bias = linear.bias is not None
        if self.has_bias:
            self.q_bias, self.bias_scale, self.bias_zero_point = quantize_int8(linear.bias)
        # Dequantized once: forward should not pay for it on every call.
        self._weight = dequantize_int8(self.q_weight, self.weight_scale, self.weight_zero_point)
        self._bias = dequantize_int8(self.q_bias, self.bias_scale, self.bias_zero_point) \
            if self.has_bias else None
        self.input_scale: float | None = None
        self.input_zero_point: int | None = None

    def calibrate(self, samples: Iterable[Any] | Any) -> None:
        """Fix the input quantization range from representative inputs (a batch or a list of them)."""
        if isinstance(samples, (Tensor, np.ndarray)):
            samples = [samples]
        arrays = [_array(s) for s in samples]
        if not arrays:
            raise ValueError("calibrate() needs at least one sample")
        low = min(float(a.min()) for a in arrays)
        high = max(float(a.max()) for a in arrays)
        self.input_scale, self.input_zero_point = _range_params(low, high)

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if self.input_scale is not None:
            codes = _quantize(x.data, self.input_scale, self.input_zero_point)
            x = dequantize_int8(codes, self.input_scale, self.input_zero_point)
        out = x.matmul(self._weight)
        return out + self._bias if self._bias is not None else out

    def __call__(self, x: Any) -> Tensor:
        return self.forward(x)

    def parameters(self) -> list[Tensor]:
        return []  # nothing trainable: int8 codes are not updated by gradient steps

    def memory_usage(self) -> dict[str, float]:
        """Bytes of float32 parameters vs int8 codes; the per-tensor scale and zero point (a few bytes
        each) are left out, as in the course, so the ratio is exactly 4."""
        count = self.q_weight.size + (self.q_bias.size if self.has_bias else 0)
        original, quantized = 4 * count, count
        return {"original_bytes": original, "quantized_bytes": quantized,
                "compression_ratio": original / quantized if quantized else 1.0}

    def __repr__(self) -> str:
        return f"QuantizedLinear(in_features={self.in_features}, out_features={self.out_features})"


def _flatten_for(layer: Linear, x: np.ndarray) -> np.ndarray:
    """Calibration data flows through the model's layers; a flatten between conv and linear is implied."""
    if x.shape[-1] != layer.weight.shape[0] and x.ndim > 2:
        return x.reshape(x.shape[0], -1)
    return x


def quantize_model(model: Any, calibration_data: Any = None) -> dict[str, Any]:
    """Replace every Linear in `model.layers` with a QuantizedLinear, in place; returns the totals.

    With calibration data (one batch or a list of batches), it is run through the layers in order so
    each QuantizedLinear calibrates on the inputs it will actually see.
    """
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list):
        raise TypeError("quantize_model needs a model with a `layers` list")
    batches = None
    if calibration_data is not None:
        many = isinstance(calibration_data, (list, tuple)) and not np.isscalar(calibration_data[0])
        batches = [_array(b) for b in (calibration_data if many else [calibration_data])]
    original = quantized = 0
    replaced = 0
    for index, layer in enumerate(layers):
        if isinstance(layer, Linear):
            new = QuantizedLinear(layer)
            if batches is not None:
                batches = [_flatten_for(layer, b) for b in batches]
                new.calibrate(batches)
            layers[index] = layer = new
            usage = new.memory_usage()
            original += usage["original_bytes"]
            quantized += usage["quantized_bytes"]
            replaced += 1
        if batches is not None:
            batches = [_array(layer(Tensor(b))) for b in batches]
    return {"quantized_layers": replaced, "original_bytes": original, "quantized_bytes": quantized,
            "compression_ratio": original / quantized if quantized else 1.0}


class Quantizer:
    """The functions above under the one name the course's later modules import (`Quantizer.quantize_model`).

    Tensors go in and come out: `quantize_tensor` returns its int8 codes as a Tensor (float32 storage
    holding the integers -128..127, since a Tensor is always float32), which `dequantize_tensor` takes.
    """

    @staticmethod
    def quantize_tensor(tensor: Any) -> tuple[Tensor, float, int]:
        codes, scale, zero_point = quantize_int8(tensor)
        return Tensor(codes), scale, zero_point

    @staticmethod
    def dequantize_tensor(q_tensor: Any, scale: float, zero_point: int) -> Tensor:
        return dequantize_int8(q_tensor, scale, zero_point)

    @staticmethod
    def quantize_model(model: Any, calibration_data: Any = None) -> dict[str, Any]:
        """quantize_model's totals, plus the sizes in MB that `compare_models` reads."""
        info = quantize_model(model, calibration_data)
        info["original_size_mb"] = info["original_bytes"] / 2**20
        info["quantized_size_mb"] = info["quantized_bytes"] / 2**20
        return info

    @staticmethod
    def compare_models(original_model: Any, quantized_info: dict[str, Any]) -> dict[str, float]:
        """Memory before and after, from `quantize_model`'s result (the model itself is not re-measured:
        quantize_model has already replaced its layers in place)."""
        original, quantized = quantized_info["original_size_mb"], quantized_info["quantized_size_mb"]
        return {"original_mb": original, "quantized_mb": quantized,
                "compression_ratio": quantized_info["compression_ratio"],
                "memory_saved_mb": original - quantized}
