"""The artefact codec is the only door from the sandbox: it must keep dtypes and refuse anything odd."""

import base64
import math

import numpy as np
import pytest

from capstone_tests import artefacts as codec


def test_arrays_keep_dtype_and_values() -> None:
    for dtype in ("float32", "float64", "int64", "bool", "uint8"):
        array = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
        back = codec.round_trip(array)
        assert back.dtype == np.dtype(dtype)
        assert np.array_equal(back, array)


def test_nested_values_and_non_finite_floats_survive() -> None:
    value = {"loss": [1.0, float("nan"), float("inf")], "n": 3, "ok": True, "name": "x", "none": None}
    back = codec.round_trip(value)
    assert back["n"] == 3 and back["ok"] is True and back["none"] is None
    assert back["loss"][0] == 1.0 and math.isnan(back["loss"][1]) and back["loss"][2] == math.inf


def test_object_arrays_are_reported_not_encoded() -> None:
    encoded = codec.encode(np.array([1, "a"], dtype=object))
    assert encoded == {"__unsupported__": "numpy array of dtype object", "shape": [2]}


def test_foreign_objects_become_descriptions() -> None:
    assert codec.encode(object()) == {"__unsupported__": "builtins.object"}


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({"__ndarray__": {"dtype": "object", "shape": [1], "data": ""}}, "not allowed"),
        ({"__ndarray__": {"dtype": "float32", "shape": [2], "data": base64.b64encode(b"abc").decode()}},
         "holds 3 bytes"),
        ({"__ndarray__": {"dtype": "float32", "shape": [-1], "data": ""}}, "non-negative"),
        ({"__ndarray__": {"dtype": "float32", "shape": [10**9], "data": ""}}, "over the limit"),
        ({"__ndarray__": {"dtype": "float32", "shape": [1]}}, "exactly dtype, shape and data"),
        ({"__float__": "1e400"}, "bad float marker"),
        ({"__ndarray__": {"dtype": "float32", "shape": [1], "data": "!!!"}}, "base64|Non-base64|Incorrect padding"),
    ],
)
def test_decode_refuses_malformed_arrays(bad: object, reason: str) -> None:
    with pytest.raises((codec.ArtefactError, ValueError), match=reason):
        codec.decode(bad)


def test_decode_refuses_deep_nesting() -> None:
    value: object = 1
    for _ in range(codec.MAX_DEPTH + 2):
        value = [value]
    with pytest.raises(codec.ArtefactError, match="nested too deeply"):
        codec.decode(value)
