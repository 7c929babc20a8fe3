"""Module 11 (embeddings), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "11_embeddings"


def test_embedding_lookup(seed: int) -> None:
    run_graded(SUITE, "test_embedding_lookup", seed)


def test_embedding_shapes(seed: int) -> None:
    run_graded(SUITE, "test_embedding_shapes", seed)


def test_embedding_gradient_accumulates(seed: int) -> None:
    run_graded(SUITE, "test_embedding_gradient_accumulates", seed)


def test_positional_encoding_is_added(seed: int) -> None:
    run_graded(SUITE, "test_positional_encoding_is_added", seed)


def test_positional_encoding_is_learned(seed: int) -> None:
    run_graded(SUITE, "test_positional_encoding_is_learned", seed)


def test_embedding_gradient_through_positional_encoding(seed: int) -> None:
    run_graded(SUITE, "test_embedding_gradient_through_positional_encoding", seed)
