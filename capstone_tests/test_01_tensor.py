"""Module 01 (tensor), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "01_tensor"


def test_construction_float32(seed: int) -> None:
    run_graded(SUITE, "test_construction_float32", seed)


def test_arithmetic_broadcasting(seed: int) -> None:
    run_graded(SUITE, "test_arithmetic_broadcasting", seed)


def test_matmul_shapes(seed: int) -> None:
    run_graded(SUITE, "test_matmul_shapes", seed)


def test_reshape_transpose(seed: int) -> None:
    run_graded(SUITE, "test_reshape_transpose", seed)


def test_reductions_axis_keepdims(seed: int) -> None:
    run_graded(SUITE, "test_reductions_axis_keepdims", seed)


def test_indexing(seed: int) -> None:
    run_graded(SUITE, "test_indexing", seed)


def test_backward_accumulates_float32(seed: int) -> None:
    run_graded(SUITE, "test_backward_accumulates_float32", seed)
