"""Module 05 (autograd), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "05_autograd"


def test_scalar_chain_rule(seed: int) -> None:
    run_graded(SUITE, "test_scalar_chain_rule", seed)


def test_broadcast_gradient(seed: int) -> None:
    run_graded(SUITE, "test_broadcast_gradient", seed)


def test_shared_parameter_accumulates(seed: int) -> None:
    run_graded(SUITE, "test_shared_parameter_accumulates", seed)


def test_reused_intermediate_accumulates(seed: int) -> None:
    run_graded(SUITE, "test_reused_intermediate_accumulates", seed)


def test_matmul_gradient(seed: int) -> None:
    run_graded(SUITE, "test_matmul_gradient", seed)


def test_gradient_dtype_float32(seed: int) -> None:
    run_graded(SUITE, "test_gradient_dtype_float32", seed)


def test_reshape_transpose_indexing_gradients(seed: int) -> None:
    run_graded(SUITE, "test_reshape_transpose_indexing_gradients", seed)


def test_mlp_gradients_vs_finite_differences(seed: int) -> None:
    run_graded(SUITE, "test_mlp_gradients_vs_finite_differences", seed)
