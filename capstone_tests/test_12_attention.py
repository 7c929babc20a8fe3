"""Module 12 (attention), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "12_attention"


def test_sdpa_matches_float64(seed: int) -> None:
    run_graded(SUITE, "test_sdpa_matches_float64", seed)


def test_sdpa_weights_rows_sum_to_one(seed: int) -> None:
    run_graded(SUITE, "test_sdpa_weights_rows_sum_to_one", seed)


def test_sdpa_causal_mask(seed: int) -> None:
    run_graded(SUITE, "test_sdpa_causal_mask", seed)


def test_sdpa_padding_mask(seed: int) -> None:
    run_graded(SUITE, "test_sdpa_padding_mask", seed)


def test_sdpa_gradients(seed: int) -> None:
    run_graded(SUITE, "test_sdpa_gradients", seed)


def test_mha_output_shape(seed: int) -> None:
    run_graded(SUITE, "test_mha_output_shape", seed)


def test_mha_has_eight_parameters(seed: int) -> None:
    run_graded(SUITE, "test_mha_has_eight_parameters", seed)


def test_mha_all_parameters_get_gradients(seed: int) -> None:
    run_graded(SUITE, "test_mha_all_parameters_get_gradients", seed)


def test_mha_matches_float64(seed: int) -> None:
    run_graded(SUITE, "test_mha_matches_float64", seed)


def test_mha_causal_mask(seed: int) -> None:
    run_graded(SUITE, "test_mha_causal_mask", seed)


def test_mha_permutation_equivariant(seed: int) -> None:
    run_graded(SUITE, "test_mha_permutation_equivariant", seed)
