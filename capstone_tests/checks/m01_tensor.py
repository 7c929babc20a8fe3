"""Module 01 (tensor) checks: every value recomputed in float64 from the challenge's own numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import check
from . import expect


def _f32(x: Any) -> np.ndarray:
    """What the student's Tensor holds for these numbers: float32, widened for exact comparison."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _numbers(r: np.random.Generator, shape: tuple[int, ...], low: float = -3.0, high: float = 3.0) -> list:
    return np.round(r.uniform(low, high, shape), 3).tolist()


def _float32_result(artefacts: dict[str, Any], key: str, expected: np.ndarray, what: str,
                    rtol: float = 1e-5, atol: float = 1e-5, given: dict[str, Any] | None = None) -> None:
    got = expect.array(artefacts, key, what=what)
    dtype = getattr(artefacts[key], "dtype", None)  # a list instead of an array has none
    expect.that(dtype == np.float32, f"{what} is {dtype}: results of Tensor operations must stay float32")
    expect.that(got.shape == expected.shape, f"{what} has shape {got.shape}, expected {expected.shape}",
                expected_shape=expected.shape, got_shape=got.shape)
    expect.close(got, expected, what, rtol=rtol, atol=atol, given=given)


def _tensors_returned(artefacts: dict[str, Any], whats: dict[str, str]) -> None:
    """Each named result must be a Tensor: a plain numpy array has the right numbers, but the next Tensor
    operation, Linear or backward() cannot use it."""
    is_tensor, types = artefacts.get("is_tensor"), artefacts.get("result_types")
    expect.that(isinstance(is_tensor, dict) and isinstance(types, dict),
                "the types of the Tensor operations' results were not reported")
    for key, what in whats.items():
        expect.that(is_tensor.get(key) is True,
                    f"{what} returned a {types.get(key)}, not a Tensor: every Tensor operation must return a "
                    f"Tensor (wrap the numpy result in Tensor(...))", returned_type=str(types.get(key)))


def _construction_challenge(r: np.random.Generator) -> dict[str, Any]:
    rows, cols = int(r.integers(2, 6)), int(r.integers(2, 6))
    return {"ints": [int(v) for v in r.integers(-50, 51, int(r.integers(3, 9)))],
            "matrix": _numbers(r, (rows, cols)), "big": int(r.integers(1000, 5000))}


@check(module=1, challenge=_construction_challenge)
def test_construction_float32(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    ints = np.asarray(challenge["ints"], dtype=np.float64)
    _float32_result(artefacts, "ints", ints, "Tensor(list of ints)", rtol=0, atol=0, given={"data": challenge["ints"]})
    matrix = _f32(challenge["matrix"])
    given = {"data": challenge["matrix"]}
    _float32_result(artefacts, "float64_input", matrix, "Tensor(float64 array)", rtol=1e-7, atol=0, given=given)
    _float32_result(artefacts, "list_input", matrix, "Tensor(nested list of floats)", rtol=1e-7, atol=0, given=given)
    expect.equal(list(artefacts["shape"]), list(matrix.shape),
                 f"Tensor.shape is {artefacts['shape']}, expected {list(matrix.shape)}", given=given)
    expect.equal(artefacts["size"], matrix.size, f"Tensor.size is {artefacts['size']}, expected {matrix.size}",
                 given=given)
    expect.that("float32" in str(artefacts["dtype_attribute"]),
                f"Tensor.dtype reports {artefacts['dtype_attribute']!r}, expected float32")
    n = challenge["big"]
    expect.equal(artefacts["big_nbytes"], 4 * n,
                 f"a float32 Tensor of {n} elements should hold {4 * n} bytes (4 per element), its data holds "
                 f"{artefacts['big_nbytes']}: store data as float32", given={"data": f"np.zeros({n}) (float64)"})


def _arithmetic_challenge(r: np.random.Generator) -> dict[str, Any]:
    rows, cols = int(r.integers(2, 6)), int(r.integers(2, 6))
    # Divisors kept away from zero so the float32 quotient stays well conditioned.
    row = (r.uniform(0.5, 2.0, cols) * r.choice([-1.0, 1.0], cols)).round(3).tolist()
    scalar = float(np.round(r.uniform(0.5, 3.0) * r.choice([-1.0, 1.0]), 3))
    return {"a": _numbers(r, (rows, cols)), "row": row, "column": _numbers(r, (rows, 1)), "scalar": scalar}


@check(module=1, challenge=_arithmetic_challenge)
def test_arithmetic_broadcasting(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    a, row, column, s = _f32(challenge["a"]), _f32(challenge["row"]), _f32(challenge["column"]), challenge["scalar"]
    expected = {
        "a + row": a + row, "a - column": a - column, "a * row": a * row, "a / row": a / row,
        "a + s": a + s, "a - s": a - s, "a * s": a * s, "a / s": a / s,
    }
    _tensors_returned(artefacts, {name: f"{name} (s a Python float)" if "s" in name.split() else name
                                  for name in expected})
    operands = {"a": a, "row": row, "column": column, "s": s}
    for name, value in expected.items():
        # "a + row" was computed from a and row: those are its example's inputs.
        given = {operand: operands[operand] for operand in name.split()[::2]}
        _float32_result(artefacts, name, value, f"{name} (a of shape {a.shape}, row {row.shape}, "
                        f"column {column.shape}, s a Python float)", given=given)


def _matmul_challenge(r: np.random.Generator) -> dict[str, Any]:
    n, k, m, b = int(r.integers(2, 6)), int(r.integers(2, 6)), int(r.integers(2, 6)), int(r.integers(2, 4))
    if k == n:
        k += 1  # a @ a must be a shape mismatch
    return {"a": _numbers(r, (n, k)), "b": _numbers(r, (k, m)),
            "batch_a": _numbers(r, (b, n, k)), "batch_b": _numbers(r, (b, k, m))}


@check(module=1, challenge=_matmul_challenge)
def test_matmul_shapes(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    a, b = _f32(challenge["a"]), _f32(challenge["b"])
    _tensors_returned(artefacts, {"operator": "a @ b", "method": "a.matmul(b)", "batched": "a batched matmul"})
    _float32_result(artefacts, "operator", a @ b, f"a @ b for shapes {a.shape} @ {b.shape}", rtol=1e-5, atol=1e-4,
                    given={"a": a, "b": b})
    _float32_result(artefacts, "method", a @ b, "a.matmul(b)", rtol=1e-5, atol=1e-4, given={"a": a, "b": b})
    batch_a, batch_b = _f32(challenge["batch_a"]), _f32(challenge["batch_b"])
    _float32_result(artefacts, "batched", batch_a @ batch_b,
                    f"batched matmul {batch_a.shape} @ {batch_b.shape}", rtol=1e-5, atol=1e-4,
                    given={"a": batch_a, "b": batch_b})
    expect.that(artefacts["mismatch_raised"] is True,
                f"a @ a for shapes {a.shape} @ {a.shape} returned a result: matmul must raise an error when "
                f"the inner dimensions differ")


def _reshape_challenge(r: np.random.Generator) -> dict[str, Any]:
    a, b, c = int(r.integers(2, 5)), int(r.integers(2, 5)), int(r.integers(2, 5))
    return {"a": a, "b": b, "c": c, "x": _numbers(r, (a, b * c))}


@check(module=1, challenge=_reshape_challenge)
def test_reshape_transpose(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x = _f32(challenge["x"])
    a, b, c = challenge["a"], challenge["b"], challenge["c"]
    cube = x.reshape(a, b, c)
    expected = {
        "flat_rows": (x.reshape(-1, c), f"reshape(-1, {c}) of a {x.shape} tensor"),
        "cube": (cube, f"reshape({a}, {b}, -1) of a {x.shape} tensor"),
        "flat": (x.reshape(-1), "reshape(-1)"),
        "transposed": (x.T, f"transpose() of a {x.shape} tensor (swaps the last two axes)"),
        "swapped_0_2": (np.swapaxes(cube, 0, 2), f"transpose(0, 2) of a {cube.shape} tensor"),
        "original_after": (x, "the original tensor after reshape/transpose (they must not modify it)"),
    }
    _tensors_returned(artefacts, {key: what for key, (_, what) in expected.items() if key != "original_after"})
    for key, (value, what) in expected.items():
        _float32_result(artefacts, key, value, what, rtol=0, atol=0, given={"x": x})


def _reductions_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"x": _numbers(r, (int(r.integers(2, 6)), int(r.integers(2, 6))))}


@check(module=1, challenge=_reductions_challenge)
def test_reductions_axis_keepdims(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x = _f32(challenge["x"])
    expected = {
        "sum": (x.sum(), "sum()"),
        "sum_axis0": (x.sum(axis=0), "sum(axis=0)"),
        "sum_axis1_keepdims": (x.sum(axis=1, keepdims=True), "sum(axis=1, keepdims=True)"),
        "mean": (x.mean(), "mean()"),
        "mean_axis0": (x.mean(axis=0), "mean(axis=0)"),
        "mean_axis1_keepdims": (x.mean(axis=1, keepdims=True), "mean(axis=1, keepdims=True)"),
        "max": (x.max(), "max()"),
        "max_axis1": (x.max(axis=1), "max(axis=1)"),
        "max_axis0_keepdims": (x.max(axis=0, keepdims=True), "max(axis=0, keepdims=True)"),
    }
    _tensors_returned(artefacts, {key: what for key, (_, what) in expected.items()})
    for key, (value, what) in expected.items():
        got = expect.array(artefacts, key, what=what)
        if value.ndim == 0:
            # A full reduction may come back 0-d or with one element; both hold the right number.
            expect.that(got.size == 1, f"{what} of a {x.shape} tensor has shape {got.shape}, expected a scalar")
            got = got.reshape(())
        expect.that(got.shape == value.shape, f"{what} of a {x.shape} tensor has shape {got.shape}, expected "
                    f"{value.shape}", expected_shape=value.shape, got_shape=got.shape)
        expect.close(got, value, f"{what} of a {x.shape} tensor", rtol=1e-5, atol=1e-5, given={"x": x})


def _indexing_challenge(r: np.random.Generator) -> dict[str, Any]:
    rows, cols = int(r.integers(3, 7)), int(r.integers(2, 6))
    lo = int(r.integers(0, rows - 1))
    return {"x": _numbers(r, (rows, cols)), "i": int(r.integers(0, rows)), "j": int(r.integers(0, cols)),
            "lo": lo, "hi": int(r.integers(lo + 1, rows + 1)),
            "rows": [int(v) for v in r.integers(0, rows, int(r.integers(2, 5)))]}


@check(module=1, challenge=_indexing_challenge)
def test_indexing(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x = _f32(challenge["x"])
    i, j, lo, hi, rows = challenge["i"], challenge["j"], challenge["lo"], challenge["hi"], challenge["rows"]
    expected = {
        "row": (x[i], f"t[{i}]"),
        "element": (x[i, j], f"t[{i}, {j}]"),
        "slice": (x[lo:hi], f"t[{lo}:{hi}]"),
        "column": (x[:, j], f"t[:, {j}]"),
        "gather_rows": (x[np.asarray(rows)], f"t[np.array({rows})] (integer-array indexing)"),
    }
    _tensors_returned(artefacts, {key: what for key, (_, what) in expected.items()})
    for key, (value, what) in expected.items():
        got = expect.array(artefacts, key, what=what)
        if value.ndim == 0 and got.size == 1:
            got = got.reshape(())
        expect.that(got.shape == value.shape, f"{what} of a {x.shape} tensor has shape {got.shape}, expected "
                    f"{value.shape}", expected_shape=value.shape, got_shape=got.shape)
        expect.close(got, value, f"{what} of a {x.shape} tensor", rtol=0, atol=0, given={"x": x})


def _accumulate_challenge(r: np.random.Generator) -> dict[str, Any]:
    n = int(r.integers(2, 7))
    return {"x": _numbers(r, (n,)), "c1": _numbers(r, (n,)), "c2": _numbers(r, (n,))}


@check(module=1, challenge=_accumulate_challenge)
def test_backward_accumulates_float32(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    c1, c2 = _f32(challenge["c1"]), _f32(challenge["c2"])
    expect.that(artefacts["data_dtype"] == "float32",
                f"a Tensor that requires grad stores {artefacts['data_dtype']} data, expected float32")
    for key, expected, what in (("after_one", c1, "x.grad after one backward() of (x * c1).sum()"),
                                ("after_two", c1 + c2, "x.grad after a second backward() of (x * c2).sum() "
                                 "(gradients add up across backward calls)")):
        dtype = artefacts[f"{key}_dtype"]
        expect.that(dtype is None or dtype == "float32",
                    f"{what} is stored as {dtype}: gradients must be accumulated as float32 numbers (an "
                    f"object array appears when a gradient is built from a list of arrays or Tensors)", module=5)
        got = expect.array(artefacts, key, what=what, module=5)
        expect.that(got.shape == expected.shape,
                    f"{what} has shape {got.shape}, expected {expected.shape}", module=5)
        expect.close(got, expected, what, module=5, rtol=1e-6, atol=1e-6,
                     given={"x": _f32(challenge["x"]), "c1": c1, "c2": c2})
