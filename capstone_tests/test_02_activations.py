"""Module 02 (activations), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "02_activations"


def test_relu_values(seed: int) -> None:
    run_graded(SUITE, "test_relu_values", seed)


def test_sigmoid_values(seed: int) -> None:
    run_graded(SUITE, "test_sigmoid_values", seed)


def test_tanh_and_gelu_values(seed: int) -> None:
    run_graded(SUITE, "test_tanh_and_gelu_values", seed)


def test_softmax_rows_sum_to_one(seed: int) -> None:
    run_graded(SUITE, "test_softmax_rows_sum_to_one", seed)


def test_softmax_large_logits_stable(seed: int) -> None:
    run_graded(SUITE, "test_softmax_large_logits_stable", seed)


def test_softmax_dim_argument(seed: int) -> None:
    run_graded(SUITE, "test_softmax_dim_argument", seed)


def test_tanh_gradient(seed: int) -> None:
    run_graded(SUITE, "test_tanh_gradient", seed)


def test_relu_sigmoid_gelu_softmax_gradients(seed: int) -> None:
    run_graded(SUITE, "test_relu_sigmoid_gelu_softmax_gradients", seed)
