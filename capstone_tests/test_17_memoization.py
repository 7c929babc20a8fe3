"""Module 17 (memoization), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "17_memoization"


def test_get_returns_filled_positions(seed: int) -> None:
    run_graded(SUITE, "test_get_returns_filled_positions", seed)


def test_layers_kept_apart(seed: int) -> None:
    run_graded(SUITE, "test_layers_kept_apart", seed)


def test_length_grows_with_advance(seed: int) -> None:
    run_graded(SUITE, "test_length_grows_with_advance", seed)


def test_update_writes_current_position(seed: int) -> None:
    run_graded(SUITE, "test_update_writes_current_position", seed)


def test_reset_starts_over(seed: int) -> None:
    run_graded(SUITE, "test_reset_starts_over", seed)


def test_fills_to_max_seq_len(seed: int) -> None:
    run_graded(SUITE, "test_fills_to_max_seq_len", seed)


def test_incremental_attention_matches_full(seed: int) -> None:
    run_graded(SUITE, "test_incremental_attention_matches_full", seed)
