"""Module 10 (tokenization), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "10_tokenization"


def test_char_round_trip(seed: int) -> None:
    run_graded(SUITE, "test_char_round_trip", seed)


def test_char_vocab_covers_corpus(seed: int) -> None:
    run_graded(SUITE, "test_char_vocab_covers_corpus", seed)


def test_char_encode_ids_stable(seed: int) -> None:
    run_graded(SUITE, "test_char_encode_ids_stable", seed)


def test_bpe_round_trip(seed: int) -> None:
    run_graded(SUITE, "test_bpe_round_trip", seed)


def test_bpe_compresses(seed: int) -> None:
    run_graded(SUITE, "test_bpe_compresses", seed)


def test_bpe_merges_frequent_word(seed: int) -> None:
    run_graded(SUITE, "test_bpe_merges_frequent_word", seed)


def test_bpe_ids_within_vocab(seed: int) -> None:
    run_graded(SUITE, "test_bpe_ids_within_vocab", seed)
