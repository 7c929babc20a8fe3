"""Module 13 (transformers), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "13_transformers"


def test_layernorm_normalises(seed: int) -> None:
    run_graded(SUITE, "test_layernorm_normalises", seed)


def test_layernorm_matches_float64(seed: int) -> None:
    run_graded(SUITE, "test_layernorm_matches_float64", seed)


def test_create_causal_mask(seed: int) -> None:
    run_graded(SUITE, "test_create_causal_mask", seed)


def test_mlp_shape_and_parameters(seed: int) -> None:
    run_graded(SUITE, "test_mlp_shape_and_parameters", seed)


def test_block_shape(seed: int) -> None:
    run_graded(SUITE, "test_block_shape", seed)


def test_block_residual(seed: int) -> None:
    run_graded(SUITE, "test_block_residual", seed)


def test_block_is_pre_norm(seed: int) -> None:
    run_graded(SUITE, "test_block_is_pre_norm", seed)


def test_block_causal_mask(seed: int) -> None:
    run_graded(SUITE, "test_block_causal_mask", seed)


def test_gpt_logits_shape(seed: int) -> None:
    run_graded(SUITE, "test_gpt_logits_shape", seed)


def test_gpt_is_causal(seed: int) -> None:
    run_graded(SUITE, "test_gpt_is_causal", seed)


def test_gpt_gradients_reach_all_parameters(seed: int) -> None:
    run_graded(SUITE, "test_gpt_gradients_reach_all_parameters", seed)


def test_gpt_overfits_repeated_sequence(seed: int) -> None:
    run_graded(SUITE, "test_gpt_overfits_repeated_sequence", seed)
