"""Module 06 (optimizers), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "06_optimizers"


def test_sgd_plain(seed: int) -> None:
    run_graded(SUITE, "test_sgd_plain", seed)


def test_sgd_momentum(seed: int) -> None:
    run_graded(SUITE, "test_sgd_momentum", seed)


def test_sgd_weight_decay(seed: int) -> None:
    run_graded(SUITE, "test_sgd_weight_decay", seed)


def test_adam_bias_correction(seed: int) -> None:
    run_graded(SUITE, "test_adam_bias_correction", seed)


def test_adam_weight_decay_l2(seed: int) -> None:
    run_graded(SUITE, "test_adam_weight_decay_l2", seed)


def test_adamw_decoupled_decay(seed: int) -> None:
    run_graded(SUITE, "test_adamw_decoupled_decay", seed)


def test_zero_grad_clears(seed: int) -> None:
    run_graded(SUITE, "test_zero_grad_clears", seed)


def test_step_skips_params_without_grad(seed: int) -> None:
    run_graded(SUITE, "test_step_skips_params_without_grad", seed)
