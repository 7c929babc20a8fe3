"""Module 07 (training), plain-pytest form."""

from capstone_tests.harness import run_graded

SUITE = "07_training"


def test_train_epoch_sgd_updates(seed: int) -> None:
    run_graded(SUITE, "test_train_epoch_sgd_updates", seed)


def test_loss_falls_over_epochs(seed: int) -> None:
    run_graded(SUITE, "test_loss_falls_over_epochs", seed)


def test_gradient_accumulation_equals_big_batch(seed: int) -> None:
    run_graded(SUITE, "test_gradient_accumulation_equals_big_batch", seed)


def test_trainer_clips_gradients(seed: int) -> None:
    run_graded(SUITE, "test_trainer_clips_gradients", seed)


def test_evaluate_loss_and_accuracy(seed: int) -> None:
    run_graded(SUITE, "test_evaluate_loss_and_accuracy", seed)


def test_clip_grad_norm(seed: int) -> None:
    run_graded(SUITE, "test_clip_grad_norm", seed)


def test_cosine_schedule(seed: int) -> None:
    run_graded(SUITE, "test_cosine_schedule", seed)
