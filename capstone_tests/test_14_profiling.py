"""Module 14 (profiling), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "14_profiling"


def test_count_parameters_model(seed: int) -> None:
    run_graded(SUITE, "test_count_parameters_model", seed)


def test_count_parameters_linear(seed: int) -> None:
    run_graded(SUITE, "test_count_parameters_linear", seed)


def test_count_parameters_without_bias(seed: int) -> None:
    run_graded(SUITE, "test_count_parameters_without_bias", seed)


def test_count_flops_linear(seed: int) -> None:
    run_graded(SUITE, "test_count_flops_linear", seed)


def test_count_flops_proportional_to_width(seed: int) -> None:
    run_graded(SUITE, "test_count_flops_proportional_to_width", seed)


def test_measure_latency_positive(seed: int) -> None:
    run_graded(SUITE, "test_measure_latency_positive", seed)


def test_measure_latency_runs_the_model(seed: int) -> None:
    run_graded(SUITE, "test_measure_latency_runs_the_model", seed)
