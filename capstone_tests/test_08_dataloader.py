"""Module 08 (dataloader), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "08_dataloader"


def test_tensor_dataset_indexing(seed: int) -> None:
    run_graded(SUITE, "test_tensor_dataset_indexing", seed)


def test_batch_count_is_ceil(seed: int) -> None:
    run_graded(SUITE, "test_batch_count_is_ceil", seed)


def test_last_partial_batch(seed: int) -> None:
    run_graded(SUITE, "test_last_partial_batch", seed)


def test_batches_are_tensors(seed: int) -> None:
    run_graded(SUITE, "test_batches_are_tensors", seed)


def test_shuffle_covers_every_sample_once(seed: int) -> None:
    run_graded(SUITE, "test_shuffle_covers_every_sample_once", seed)


def test_shuffle_reorders(seed: int) -> None:
    run_graded(SUITE, "test_shuffle_reorders", seed)
