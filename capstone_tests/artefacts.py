"""Artefacts: what a probe hands back, as plain JSON the trusted side can check without trusting it.

Arrays travel as `{"__ndarray__": {"dtype", "shape", "data": base64}}` with a fixed list of numeric
dtypes, so the check sees the student's real dtype (float32 vs float64) and nothing can smuggle an
object in; non-finite floats travel as `{"__float__": "nan"}` because JSON has no NaN. `decode` is
strict: anything outside this shape raises `ArtefactError` and the test fails, never the grader.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from .boundary.inside.protocol import Opaque

ALLOWED_DTYPES = frozenset(
    {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "bool"}
)
MAX_ARRAY_ELEMENTS = 2_000_000
MAX_DEPTH = 32


class ArtefactError(ValueError):
    """Artefacts that are not plain numbers, strings, lists, dicts or allowed arrays."""


def encode(value: Any, depth: int = 0) -> Any:
    """Turn a probe's return value into JSON-able data. Unknown objects become a string describing them."""
    if depth > MAX_DEPTH:
        raise ArtefactError("artefacts nested too deeply")
    if isinstance(value, bool | type(None) | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic):
        return encode(value.item(), depth)
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, dict):
        return {str(k): encode(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, Opaque):  # what the student's process answered where data was asked for
        return {"__unsupported__": value.description} | ({"shape": list(value.shape)} if value.shape else {})
    return {"__unsupported__": f"{type(value).__module__}.{type(value).__qualname__}"}


def _encode_array(array: np.ndarray) -> Any:
    if array.dtype.name not in ALLOWED_DTYPES:
        # The dtype itself is the finding (an object array where float32 was due), so say it.
        return {"__unsupported__": f"numpy array of dtype {array.dtype.name}", "shape": list(array.shape)}
    if array.size > MAX_ARRAY_ELEMENTS:
        raise ArtefactError(f"array of {array.size} elements is over the limit of {MAX_ARRAY_ELEMENTS}")
    data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
    return {"__ndarray__": {"dtype": array.dtype.name, "shape": list(array.shape), "data": data}}


def decode(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ArtefactError("artefacts nested too deeply")
    if isinstance(value, bool | type(None) | str | int | float):
        return value
    if isinstance(value, list):
        return [decode(v, depth + 1) for v in value]
    if not isinstance(value, dict):
        raise ArtefactError(f"unexpected JSON value of type {type(value).__name__}")
    if set(value) == {"__ndarray__"}:
        return _decode_array(value["__ndarray__"])
    if set(value) == {"__float__"}:
        if value["__float__"] not in ("nan", "inf", "-inf"):
            raise ArtefactError(f"bad float marker {value['__float__']!r}")
        return float(value["__float__"])
    if not all(isinstance(k, str) for k in value):
        raise ArtefactError("artefact keys must be strings")
    return {k: decode(v, depth + 1) for k, v in value.items()}


def _decode_array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        raise ArtefactError("array must have exactly dtype, shape and data")
    dtype, shape, data = spec["dtype"], spec["shape"], spec["data"]
    if dtype not in ALLOWED_DTYPES:
        raise ArtefactError(f"array dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ArtefactError("array shape must be a list of non-negative integers")
    count = math.prod(shape)
    if count > MAX_ARRAY_ELEMENTS:
        raise ArtefactError(f"array of {count} elements is over the limit of {MAX_ARRAY_ELEMENTS}")
    if not isinstance(data, str):
        raise ArtefactError("array data must be a base64 string")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise ArtefactError(f"array data holds {len(raw)} bytes, shape {shape} of {dtype} needs "
                            f"{count * np.dtype(dtype).itemsize}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def round_trip(value: Any) -> Any:
    """What the trusted side would see of `value` after it crossed the sandbox boundary."""
    return decode(encode(value))
