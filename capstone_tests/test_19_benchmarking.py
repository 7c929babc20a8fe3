"""Module 19 (benchmarking), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "19_benchmarking"


def test_benchmark_runs_every_model(seed: int) -> None:
    run_graded(SUITE, "test_benchmark_runs_every_model", seed)


def test_latency_statistics_positive(seed: int) -> None:
    run_graded(SUITE, "test_latency_statistics_positive", seed)


def test_results_are_benchmark_results(seed: int) -> None:
    run_graded(SUITE, "test_results_are_benchmark_results", seed)


def test_each_model_timed_repeatedly(seed: int) -> None:
    run_graded(SUITE, "test_each_model_timed_repeatedly", seed)


def test_results_named_per_model(seed: int) -> None:
    run_graded(SUITE, "test_results_named_per_model", seed)


def test_benchmark_feeds_the_input(seed: int) -> None:
    run_graded(SUITE, "test_benchmark_feeds_the_input", seed)
