"""A failed check's worked example: what went in, what should have come out, what came out.

`make_example(given, expected, got, focus)` turns any values (arrays, numbers, lists, dicts, anything the
student's artefacts decoded to) into one small JSON-safe dict:

    {"input": {"x": {"shape": [4, 3], "at": "[2, :]", "values": [0.1, -1.2, 3.0]}, "dim": 1},
     "expected": {"shape": [4, 2], "at": "[2, :]", "values": [0.5, 0.25]},
     "got": {"shape": [4, 2], "at": "[2, :]", "values": [1.0, 0.5]}}

An array is its shape plus at most ITEMS values: all of them when it is that small (and has at most two
axes), else one row (a window of its last axis), named by `at` in numpy's index notation. `focus` (the index
where expected and got differ most) picks that row for expected and got, and for every input whose leading
axes match theirs (the same batch row, the same position). Numbers keep 6 significant digits; NaN and
infinities become the strings "nan", "inf", "-inf"; strings, lists and dicts are cut. However large or
strange the values, the example's JSON stays under MAX_CHARS: it is shown on a web page and stored with
every failed test.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_CHARS = 2_000


@dataclass(frozen=True)
class Limits:
    items: int  # values of an array row, items of a list, keys of a dict
    depth: int  # nesting of lists and dicts below the example's own three parts
    text: int  # characters of a string


# Tried in order until the example fits MAX_CHARS; the last one always leaves a small example.
LIMITS = (Limits(8, 3, 80), Limits(4, 2, 40), Limits(2, 1, 20))
ITEMS = LIMITS[0].items
Index = tuple[int, ...]


def make_example(given: dict[str, Any] | None, expected: Any, got: Any, focus: Index | None = None) -> dict[str, Any]:
    """The bounded, JSON-safe example of one failure (see the module's docstring)."""
    focus = _index(focus)
    shape = _shape_of(expected)
    for limits in LIMITS:
        example = {
            "input": _inputs(given or {}, shape, focus, limits),
            "expected": _shown(expected, limits, limits.depth, focus),
            "got": _shown(got, limits, limits.depth, focus),
        }
        if len(json.dumps(example, allow_nan=False)) <= MAX_CHARS:
            return example
    # Only a pathological input (an array of dozens of axes, say) reaches this: say so rather than show it.
    small = Limits(2, 0, 20)
    return {"input": {"…": "too large to show"}, "expected": _shown(expected, small, 0, None),
            "got": _shown(got, small, 0, None)}


def _index(focus: Any) -> Index | None:
    if focus is None:
        return None
    return tuple(int(i) for i in focus)


def _shape_of(value: Any) -> Index | None:
    array = _numeric(value)
    return None if array is None else tuple(array.shape)


def _inputs(given: dict[str, Any], out_shape: Index | None, focus: Index | None, limits: Limits) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for count, (name, value) in enumerate(given.items()):
        if count == limits.items:
            shown["…"] = f"{len(given) - count} more"
            break
        array = _numeric(value)
        aligned = _aligned(array.shape, out_shape, focus) if array is not None else None
        shown[_text(name, limits.text)] = _shown(value, limits, limits.depth, aligned)
    return shown


def _aligned(shape: Index, out_shape: Index | None, focus: Index | None) -> Index | None:
    """The input's index matching `focus` on the leading axes it shares with the output (a batch row, a
    position), 0 on the rest; None when it shares none (then the input's first row is shown)."""
    if focus is None or out_shape is None or len(focus) != len(out_shape):
        return None
    common = 0
    while common < min(len(shape), len(out_shape)) and shape[common] == out_shape[common]:
        common += 1
    return tuple(focus[:common]) + (0,) * (len(shape) - common) if common else None


def _numeric(value: Any) -> np.ndarray | None:
    """`value` as a numeric (bool, int, float) array when it is one or a rectangular list of numbers."""
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind in "biuf" else None
    if isinstance(value, list | tuple) and value:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):  # ragged
            return None
        return array if array.dtype.kind in "biuf" else None
    return None


def _shown(value: Any, limits: Limits, depth: int, focus: Index | None) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return _text(value, limits.text)
    if isinstance(value, np.ndarray):
        return _array(value, limits, depth, focus)
    if isinstance(value, list | tuple):
        array = _numeric(value)
        if array is not None:
            return _array(array, limits, depth, focus)
        if depth <= 0:
            return f"[{len(value)} items]"
        items = [_shown(v, limits, depth - 1, None) for v in value[:limits.items]]
        return items + ([f"… {len(value) - limits.items} more"] if len(value) > limits.items else [])
    if isinstance(value, dict):
        if depth <= 0:
            return f"{{{len(value)} keys}}"
        shown = {}
        for count, (key, item) in enumerate(value.items()):
            if count == limits.items:
                shown["…"] = f"{len(value) - count} more"
                break
            shown[_text(str(key), limits.text)] = _shown(item, limits, depth - 1, None)
        return shown
    return _text(repr(value), limits.text)


def _number(value: int | float) -> int | float | str:
    if isinstance(value, int):
        return value if abs(value) < 2**53 else _text(str(value), 24)  # beyond that JSON readers lose digits
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(f"{value:.6g}")


def _text(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"


def _array(array: np.ndarray, limits: Limits, depth: int, focus: Index | None) -> Any:
    if array.ndim == 0:
        return _shown(array.item(), limits, depth, None)
    shape = [int(n) for n in array.shape]
    if array.size <= limits.items and array.ndim <= 2:  # whole, nested at most two deep
        return {"shape": shape, "values": _values(array, limits, depth)}
    # One row: the focus's (clipped into the array), or the first; a window of its last axis around the focus.
    at = [min(max(i, 0), n - 1) for i, n in zip(focus, shape, strict=True)] if focus and len(focus) == array.ndim \
        else [0] * array.ndim
    row = array[tuple(at[:-1])]
    length = shape[-1]
    start = min(max(at[-1] - limits.items // 2, 0), max(length - limits.items, 0)) if focus else 0
    stop = min(start + limits.items, length)
    window = ":" if (start, stop) == (0, length) else f"{start}:{stop}"
    return {"shape": shape, "at": "[" + ", ".join([*map(str, at[:-1]), window]) + "]",
            "values": _values(row[start:stop], limits, depth)}


def _values(array: np.ndarray, limits: Limits, depth: int) -> Any:
    if array.dtype.kind == "O":  # objects (a student's Tensors in an array): shown one by one, briefly
        return [_shown(v, limits, depth - 1, None) for v in array.reshape(-1)[:limits.items]]
    if array.dtype.kind in "biuf":
        return _nested(array.tolist())
    return [_text(str(v), limits.text) for v in array.reshape(-1)[:limits.items]]  # strings, complex, dates


def _nested(values: Any) -> Any:
    if isinstance(values, list):
        return [_nested(v) for v in values]
    return values if isinstance(values, bool) or values is None else _number(values)


def example_lines(example: Any, width: int = 160) -> list[str]:
    """The example as short text lines (`grader grade`, the plain-pytest report): `x[2, :] = [...] of shape
    (4, 3)` for each input, then `expected...` and `got...`; each line cut to `width`."""
    if not isinstance(example, dict):
        return []
    inputs = example.get("input") if isinstance(example.get("input"), dict) else {}
    lines = [f"input {describe(str(name), value)}" for name, value in inputs.items()]
    lines += [describe(part, example.get(part)) for part in ("expected", "got")]
    return [_text(line, width) for line in lines]


def describe(name: str, value: Any) -> str:
    """`name<at> = values of shape (...)` for an array, `name = value` for anything else."""
    if isinstance(value, dict) and "shape" in value and "values" in value:
        shape = ", ".join(str(n) for n in value["shape"]) + ("," if len(value["shape"]) == 1 else "")
        return f"{name}{value.get('at', '')} = {_json(value['values'])} of shape ({shape})"
    return f"{name} = {_json(value)}"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
