"""Module 01 (tensor) probes: construction, arithmetic, matmul, shapes, reductions and indexing.

Inputs come from the challenge (small lists of numbers), so the check can recompute every result in
float64 without trusting anything the probe says about its inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_later, grad_snapshot, values_later, view_later


def _with_types(tt: Resolver, results: dict[str, Any]) -> dict[str, Any]:
    """Each result's values, plus whether it is a Tensor and its type's name: a Tensor operation that returns a
    plain numpy array holds the right numbers but breaks the next operation and backward()."""
    tensor = tt.Tensor
    return {**{name: values_later(t) for name, t in results.items()},
            "is_tensor": {name: view_later("is_instance", t, tensor) for name, t in results.items()},
            "result_types": {name: view_later("type_name", t) for name, t in results.items()}}


def test_construction_float32(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    from_ints = tt.Tensor(list(challenge["ints"]))
    from_float64 = tt.Tensor(np.asarray(challenge["matrix"], dtype=np.float64))
    from_lists = tt.Tensor(challenge["matrix"])
    big = tt.Tensor(np.zeros(challenge["big"], dtype=np.float64))
    return {
        "ints": values_later(from_ints),
        "float64_input": values_later(from_float64),
        "list_input": values_later(from_lists),
        "shape": view_later("as_list", from_float64.shape),
        "size": view_later("to_int", from_float64.size),
        "dtype_attribute": view_later("text", from_float64.dtype),
        "big_nbytes": values_later(big).nbytes,  # read beside the data: only the number crosses
    }


def test_arithmetic_broadcasting(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    a = tt.Tensor(float32(challenge["a"]))
    row = tt.Tensor(float32(challenge["row"]))
    column = tt.Tensor(float32(challenge["column"]))
    s = challenge["scalar"]
    results = {
        "a + row": a + row,
        "a - column": a - column,
        "a * row": a * row,
        "a / row": a / row,
        "a + s": a + s,
        "a - s": a - s,
        "a * s": a * s,
        "a / s": a / s,
    }
    return _with_types(tt, results)


def test_matmul_shapes(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    a = tt.Tensor(float32(challenge["a"]))
    b = tt.Tensor(float32(challenge["b"]))
    batch_a = tt.Tensor(float32(challenge["batch_a"]))
    batch_b = tt.Tensor(float32(challenge["batch_b"]))
    tt.settle()  # a Tensor that cannot be built fails here, not as the mismatch below
    try:
        a @ a  # (n, k) @ (n, k) with n != k: the inner sizes disagree
        tt.settle()
        mismatch_raised = False
    except Exception:  # any error is the right reaction to incompatible shapes
        mismatch_raised = True
    return {**_with_types(tt, {"operator": a @ b, "method": a.matmul(b), "batched": batch_a @ batch_b}),
            "mismatch_raised": mismatch_raised}


def test_reshape_transpose(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = tt.Tensor(float32(challenge["x"]))  # shape (a, b * c)
    a, b, c = challenge["a"], challenge["b"], challenge["c"]
    cube = x.reshape(a, b, -1)
    return _with_types(tt, {
        "flat_rows": x.reshape(-1, c),
        "cube": cube,
        "flat": x.reshape(-1),
        "transposed": x.transpose(),
        "swapped_0_2": cube.transpose(0, 2),
        "original_after": x,
    })


def test_reductions_axis_keepdims(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = tt.Tensor(float32(challenge["x"]))
    return _with_types(tt, {
        "sum": x.sum(),
        "sum_axis0": x.sum(axis=0),
        "sum_axis1_keepdims": x.sum(axis=1, keepdims=True),
        "mean": x.mean(),
        "mean_axis0": x.mean(axis=0),
        "mean_axis1_keepdims": x.mean(axis=1, keepdims=True),
        "max": x.max(),
        "max_axis1": x.max(axis=1),
        "max_axis0_keepdims": x.max(axis=0, keepdims=True),
    })


def test_indexing(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = tt.Tensor(float32(challenge["x"]))
    i, j, lo, hi = challenge["i"], challenge["j"], challenge["lo"], challenge["hi"]
    rows = np.asarray(challenge["rows"], dtype=np.int64)
    return _with_types(tt, {
        "row": x[i],
        "element": x[i, j],
        "slice": x[lo:hi],
        "column": x[:, j],
        "gather_rows": x[rows],
    })


def test_backward_accumulates_float32(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    x = tt.Tensor(float32(challenge["x"]), requires_grad=True)
    first = tt.Tensor(float32(challenge["c1"]))
    second = tt.Tensor(float32(challenge["c2"]))
    (x * first).sum().backward()
    after_one = grad_snapshot(x)  # a copy: the next backward may add in place
    after_one_dtype = view_later("dtype_name", after_one)
    (x * second).sum().backward()
    after_two = grad_later(x)
    return {
        "after_one": after_one,
        "after_one_dtype": after_one_dtype,
        "after_two": after_two,
        "after_two_dtype": view_later("dtype_name", after_two),
        "data_dtype": view_later("dtype_name", x),
    }
