"""Module 01 (tensor) probes: construction, arithmetic, matmul, shapes, reductions and indexing.

Inputs come from the challenge (small lists of numbers), so the check can recompute every result in
float64 without trusting anything the probe says about its inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_of, values


def _dtype(t: Any) -> str:
    return str(np.asarray(values(t)).dtype)


def test_construction_float32(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    from_ints = tt.Tensor(list(challenge["ints"]))
    from_float64 = tt.Tensor(np.asarray(challenge["matrix"], dtype=np.float64))
    from_lists = tt.Tensor(challenge["matrix"])
    big = tt.Tensor(np.zeros(challenge["big"], dtype=np.float64))
    return {
        "ints": values(from_ints),
        "float64_input": values(from_float64),
        "list_input": values(from_lists),
        "shape": list(from_float64.shape),
        "size": int(from_float64.size),
        "dtype_attribute": str(from_float64.dtype),
        "big_nbytes": int(values(big).nbytes),
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
    return {name: values(t) for name, t in results.items()}


def test_matmul_shapes(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    a = tt.Tensor(float32(challenge["a"]))
    b = tt.Tensor(float32(challenge["b"]))
    batch_a = tt.Tensor(float32(challenge["batch_a"]))
    batch_b = tt.Tensor(float32(challenge["batch_b"]))
    try:
        a @ a  # (n, k) @ (n, k) with n != k: the inner sizes disagree
        mismatch_raised = False
    except Exception:  # any error is the right reaction to incompatible shapes
        mismatch_raised = True
    return {
        "operator": values(a @ b),
        "method": values(a.matmul(b)),
        "batched": values(batch_a @ batch_b),
        "mismatch_raised": mismatch_raised,
    }


def test_reshape_transpose(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = tt.Tensor(float32(challenge["x"]))  # shape (a, b * c)
    a, b, c = challenge["a"], challenge["b"], challenge["c"]
    cube = x.reshape(a, b, -1)
    return {
        "flat_rows": values(x.reshape(-1, c)),
        "cube": values(cube),
        "flat": values(x.reshape(-1)),
        "transposed": values(x.transpose()),
        "swapped_0_2": values(cube.transpose(0, 2)),
        "original_after": values(x),
    }


def test_reductions_axis_keepdims(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = tt.Tensor(float32(challenge["x"]))
    return {
        "sum": values(x.sum()),
        "sum_axis0": values(x.sum(axis=0)),
        "sum_axis1_keepdims": values(x.sum(axis=1, keepdims=True)),
        "mean": values(x.mean()),
        "mean_axis0": values(x.mean(axis=0)),
        "mean_axis1_keepdims": values(x.mean(axis=1, keepdims=True)),
        "max": values(x.max()),
        "max_axis1": values(x.max(axis=1)),
        "max_axis0_keepdims": values(x.max(axis=0, keepdims=True)),
    }


def test_indexing(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x = tt.Tensor(float32(challenge["x"]))
    i, j, lo, hi = challenge["i"], challenge["j"], challenge["lo"], challenge["hi"]
    rows = np.asarray(challenge["rows"], dtype=np.int64)
    return {
        "row": values(x[i]),
        "element": values(x[i, j]),
        "slice": values(x[lo:hi]),
        "column": values(x[:, j]),
        "gather_rows": values(x[rows]),
    }


def test_backward_accumulates_float32(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    x = tt.Tensor(float32(challenge["x"]), requires_grad=True)
    first = tt.Tensor(float32(challenge["c1"]))
    second = tt.Tensor(float32(challenge["c2"]))
    (x * first).sum().backward()
    after_one = grad_of(x)
    after_one = None if after_one is None else np.array(after_one)  # a copy: the next backward may add in place
    (x * second).sum().backward()
    after_two = grad_of(x)
    return {
        "after_one": after_one,
        "after_one_dtype": None if after_one is None else str(after_one.dtype),
        "after_two": after_two,
        "after_two_dtype": None if after_two is None else str(after_two.dtype),
        "data_dtype": _dtype(x),
    }
