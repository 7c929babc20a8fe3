"""Module 03 (layers), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "03_layers"


def test_linear_shapes_and_parameters(seed: int) -> None:
    run_graded(SUITE, "test_linear_shapes_and_parameters", seed)


def test_linear_forward(seed: int) -> None:
    run_graded(SUITE, "test_linear_forward", seed)


def test_linear_gradients(seed: int) -> None:
    run_graded(SUITE, "test_linear_gradients", seed)


def test_two_layer_gradients(seed: int) -> None:
    run_graded(SUITE, "test_two_layer_gradients", seed)


def test_linear_init_breaks_symmetry(seed: int) -> None:
    run_graded(SUITE, "test_linear_init_breaks_symmetry", seed)


def test_dropout_eval_is_identity(seed: int) -> None:
    run_graded(SUITE, "test_dropout_eval_is_identity", seed)


def test_dropout_training_scaling(seed: int) -> None:
    run_graded(SUITE, "test_dropout_training_scaling", seed)
