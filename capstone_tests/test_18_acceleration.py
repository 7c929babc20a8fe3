"""Module 18 (acceleration), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "18_acceleration"


def test_vectorized_matmul(seed: int) -> None:
    run_graded(SUITE, "test_vectorized_matmul", seed)


def test_tiled_matmul_uneven_tiles(seed: int) -> None:
    run_graded(SUITE, "test_tiled_matmul_uneven_tiles", seed)


def test_tiled_matmul_exact_tiles(seed: int) -> None:
    run_graded(SUITE, "test_tiled_matmul_exact_tiles", seed)


def test_tiled_matmul_tile_larger_than_matrix(seed: int) -> None:
    run_graded(SUITE, "test_tiled_matmul_tile_larger_than_matrix", seed)


def test_tiled_matmul_vector_shapes(seed: int) -> None:
    run_graded(SUITE, "test_tiled_matmul_vector_shapes", seed)


def test_fused_gelu_values(seed: int) -> None:
    run_graded(SUITE, "test_fused_gelu_values", seed)


def test_fused_gelu_extremes(seed: int) -> None:
    run_graded(SUITE, "test_fused_gelu_extremes", seed)
