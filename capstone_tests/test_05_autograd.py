"""Module 05 (autograd), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "05_autograd"


def test_scalar_chain_rule(seed: int) -> None:
    run_graded(SUITE, "test_scalar_chain_rule", seed)


def test_broadcast_gradient(seed: int) -> None:
    run_graded(SUITE, "test_broadcast_gradient", seed)


def test_shared_parameter_accumulates(seed: int) -> None:
    run_graded(SUITE, "test_shared_parameter_accumulates", seed)
