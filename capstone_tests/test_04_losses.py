"""Module 04 (losses), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "04_losses"


def test_mse_value(seed: int) -> None:
    run_graded(SUITE, "test_mse_value", seed)


def test_cross_entropy_value(seed: int) -> None:
    run_graded(SUITE, "test_cross_entropy_value", seed)


def test_bce_value(seed: int) -> None:
    run_graded(SUITE, "test_bce_value", seed)


def test_log_softmax_stable(seed: int) -> None:
    run_graded(SUITE, "test_log_softmax_stable", seed)


def test_cross_entropy_large_logits(seed: int) -> None:
    run_graded(SUITE, "test_cross_entropy_large_logits", seed)


def test_cross_entropy_gradient(seed: int) -> None:
    run_graded(SUITE, "test_cross_entropy_gradient", seed)


def test_mse_bce_gradients(seed: int) -> None:
    run_graded(SUITE, "test_mse_bce_gradients", seed)
