"""Module 09 (spatial), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "09_spatial"


def test_conv2d_output_shapes(seed: int) -> None:
    run_graded(SUITE, "test_conv2d_output_shapes", seed)


def test_conv2d_values(seed: int) -> None:
    run_graded(SUITE, "test_conv2d_values", seed)


def test_conv2d_gradients(seed: int) -> None:
    run_graded(SUITE, "test_conv2d_gradients", seed)


def test_maxpool2d_values(seed: int) -> None:
    run_graded(SUITE, "test_maxpool2d_values", seed)


def test_maxpool2d_gradient_routing(seed: int) -> None:
    run_graded(SUITE, "test_maxpool2d_gradient_routing", seed)


def test_avgpool2d_values(seed: int) -> None:
    run_graded(SUITE, "test_avgpool2d_values", seed)


def test_avgpool2d_gradient(seed: int) -> None:
    run_graded(SUITE, "test_avgpool2d_gradient", seed)
