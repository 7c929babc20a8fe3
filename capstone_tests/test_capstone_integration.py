"""The capstone suite, plain-pytest form: 14 tests in 7 priorities (points in rubric.toml).

Run with `pytest capstone_tests/test_capstone_integration.py [--tinytorch DIR] [--seed N]`. Each test runs
its probe against the importable `tinytorch`, then its check, in this process; P7 tests also measure the
same probe on the reference to compare time and peak memory.
"""

import pytest

from capstone_tests.harness import run_graded

SUITE = "capstone"


@pytest.mark.priority(1)
def test_complete_ml_pipeline_end_to_end(seed: int) -> None:
    run_graded(SUITE, "test_complete_ml_pipeline_end_to_end", seed)


@pytest.mark.priority(2)
def test_mlp_architecture_integration(seed: int) -> None:
    run_graded(SUITE, "test_mlp_architecture_integration", seed)


@pytest.mark.priority(2)
def test_cnn_architecture_integration(seed: int) -> None:
    run_graded(SUITE, "test_cnn_architecture_integration", seed)


@pytest.mark.priority(2)
def test_transformer_architecture_integration(seed: int) -> None:
    run_graded(SUITE, "test_transformer_architecture_integration", seed)


@pytest.mark.priority(3)
def test_xor_convergence(seed: int) -> None:
    run_graded(SUITE, "test_xor_convergence", seed)


@pytest.mark.priority(3)
def test_binary_classification_convergence(seed: int) -> None:
    run_graded(SUITE, "test_binary_classification_convergence", seed)


@pytest.mark.priority(4)
def test_inference_pipeline(seed: int) -> None:
    run_graded(SUITE, "test_inference_pipeline", seed)


@pytest.mark.priority(5)
def test_quantization_pipeline(seed: int) -> None:
    run_graded(SUITE, "test_quantization_pipeline", seed)


@pytest.mark.priority(5)
def test_pruning_pipeline(seed: int) -> None:
    run_graded(SUITE, "test_pruning_pipeline", seed)


@pytest.mark.priority(5)
def test_combined_optimization_deployment(seed: int) -> None:
    run_graded(SUITE, "test_combined_optimization_deployment", seed)


@pytest.mark.priority(6)
def test_deep_network_gradient_flow(seed: int) -> None:
    run_graded(SUITE, "test_deep_network_gradient_flow", seed)


@pytest.mark.priority(6)
def test_gradient_accumulation_correctness(seed: int) -> None:
    run_graded(SUITE, "test_gradient_accumulation_correctness", seed)


@pytest.mark.priority(7)
def test_memory_efficiency(seed: int) -> None:
    run_graded(SUITE, "test_memory_efficiency", seed)


@pytest.mark.priority(7)
def test_training_performance(seed: int) -> None:
    run_graded(SUITE, "test_training_performance", seed)
