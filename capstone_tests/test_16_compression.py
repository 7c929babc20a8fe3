"""Module 16 (compression), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "16_compression"


def test_magnitude_prune_sparsity(seed: int) -> None:
    run_graded(SUITE, "test_magnitude_prune_sparsity", seed)


def test_magnitude_prune_removes_smallest(seed: int) -> None:
    run_graded(SUITE, "test_magnitude_prune_removes_smallest", seed)


def test_magnitude_prune_biases_kept_or_zeroed(seed: int) -> None:
    run_graded(SUITE, "test_magnitude_prune_biases_kept_or_zeroed", seed)


def test_magnitude_prune_in_place(seed: int) -> None:
    run_graded(SUITE, "test_magnitude_prune_in_place", seed)


def test_measure_sparsity(seed: int) -> None:
    run_graded(SUITE, "test_measure_sparsity", seed)


def test_structured_prune_whole_channels(seed: int) -> None:
    run_graded(SUITE, "test_structured_prune_whole_channels", seed)


def test_structured_prune_weakest_channels(seed: int) -> None:
    run_graded(SUITE, "test_structured_prune_weakest_channels", seed)
