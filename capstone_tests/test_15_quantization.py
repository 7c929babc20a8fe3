"""Module 15 (quantization), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "15_quantization"


def test_quantize_int8_codes_in_range(seed: int) -> None:
    run_graded(SUITE, "test_quantize_int8_codes_in_range", seed)


def test_quantize_int8_round_trip(seed: int) -> None:
    run_graded(SUITE, "test_quantize_int8_round_trip", seed)


def test_quantize_int8_scale_matches_range(seed: int) -> None:
    run_graded(SUITE, "test_quantize_int8_scale_matches_range", seed)


def test_dequantize_int8_formula(seed: int) -> None:
    run_graded(SUITE, "test_dequantize_int8_formula", seed)


def test_quantized_linear_matches_float(seed: int) -> None:
    run_graded(SUITE, "test_quantized_linear_matches_float", seed)


def test_quantized_linear_memory_usage(seed: int) -> None:
    run_graded(SUITE, "test_quantized_linear_memory_usage", seed)


def test_quantize_model(seed: int) -> None:
    run_graded(SUITE, "test_quantize_model", seed)
