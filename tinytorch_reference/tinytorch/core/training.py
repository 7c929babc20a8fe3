"""Module 07: training.

`Trainer` runs the loop (forward, loss, backward, optional clipping, step) with gradient accumulation
and an optional per-epoch learning-rate schedule; `evaluate` reports loss and accuracy without building
a graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

# The course's training module imports its losses, and its tests import them from here.
from .losses import CrossEntropyLoss, MSELoss
from .tensor import Tensor, no_grad

__all__ = ["CosineSchedule", "CrossEntropyLoss", "MSELoss", "Trainer", "clip_grad_norm"]


class CosineSchedule:
    """Cosine decay from max_lr at epoch 0 to min_lr at total_epochs (and after)."""

    def __init__(self, max_lr: float = 0.1, min_lr: float = 0.01, total_epochs: int = 100) -> None:
        self.max_lr = float(max_lr)
        self.min_lr = float(min_lr)
        self.total_epochs = total_epochs

    def get_lr(self, epoch: int) -> float:
        progress = min(max(epoch, 0), self.total_epochs) / max(self.total_epochs, 1)
        return self.min_lr + (self.max_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def clip_grad_norm(parameters: Iterable[Tensor], max_norm: float = 1.0) -> float:
    """Scale all gradients together so their global L2 norm is at most max_norm; return the norm before."""
    grads = [p.grad for p in parameters if p.grad is not None]
    # ravel + dot: one fused pass per array, no temporary of the squares.
    total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total


def _set_training(model: Any, training: bool) -> None:
    """Toggle train/eval mode on models that have one (Dropout reads it); others are left alone."""
    if callable(getattr(model, "train", None)) and callable(getattr(model, "eval", None)):
        model.train() if training else model.eval()
    elif hasattr(model, "training"):
        model.training = training


class Trainer:
    def __init__(self, model: Any, optimizer: Any, loss_fn: Any, scheduler: Any = None,
                 grad_clip_norm: float | None = None) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.scheduler = scheduler
        self.grad_clip_norm = grad_clip_norm
        self.epoch = 0
        self.steps = 0
        self.history: dict[str, list[float]] = {"train_loss": [], "eval_loss": [], "eval_accuracy": [],
                                                "learning_rate": []}

    def _forward(self, inputs: Tensor) -> Tensor:
        forward = getattr(self.model, "forward", self.model)
        return forward(inputs)

    def _optimizer_step(self) -> None:
        if self.grad_clip_norm is not None:
            clip_grad_norm(self.optimizer.params, self.grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.steps += 1

    def train_epoch(self, dataloader: Iterable[Any], accumulation_steps: int = 1) -> float:
        """One pass over the data; returns the mean of the per-batch losses.

        With accumulation, each batch's loss is scaled by 1/k and the optimizer steps every k batches
        (and once more for a shorter final group), so k batches of n equal one batch of k*n.
        """
        if accumulation_steps < 1:
            raise ValueError("accumulation_steps must be >= 1")
        _set_training(self.model, True)
        if self.scheduler is not None:
            self.optimizer.lr = self.scheduler.get_lr(self.epoch)
        self.optimizer.zero_grad()
        total, batches, pending = 0.0, 0, 0
        for batch in dataloader:
            inputs, targets = batch[0], batch[1]
            loss = self.loss_fn(self._forward(inputs), targets)
            (loss * (1.0 / accumulation_steps) if accumulation_steps > 1 else loss).backward()
            total += loss.item()
            batches += 1
            pending += 1
            if pending == accumulation_steps:
                self._optimizer_step()
                pending = 0
        if pending:
            self._optimizer_step()
        mean_loss = total / max(batches, 1)
        self.history["train_loss"].append(mean_loss)
        self.history["learning_rate"].append(self.optimizer.lr)
        self.epoch += 1
        return mean_loss

    def evaluate(self, dataloader: Iterable[Any]) -> tuple[float, float]:
        """Mean loss per sample and accuracy: argmax for multi-column outputs, threshold 0.5 for one."""
        was_training = getattr(self.model, "training", True)
        _set_training(self.model, False)
        total_loss, correct, seen = 0.0, 0, 0
        with no_grad():
            for batch in dataloader:
                inputs, targets = batch[0], batch[1]
                outputs = self._forward(inputs)
                count = len(outputs.data) if outputs.ndim else 1
                total_loss += self.loss_fn(outputs, targets).item() * count
                correct += _count_correct(outputs.data, np.asarray(getattr(targets, "data", targets)))
                seen += count
        _set_training(self.model, was_training)  # evaluation leaves the mode as it found it
        loss, accuracy = total_loss / max(seen, 1), correct / max(seen, 1)
        self.history["eval_loss"].append(loss)
        self.history["eval_accuracy"].append(accuracy)
        return loss, accuracy


def _count_correct(outputs: np.ndarray, targets: np.ndarray) -> int:
    if outputs.ndim >= 2 and outputs.shape[-1] > 1:
        predicted = outputs.argmax(axis=-1).reshape(-1)
        # One-hot targets have the outputs' shape; class indices have one fewer axis.
        labels = targets.argmax(axis=-1) if targets.shape == outputs.shape else targets
        return int((predicted == labels.reshape(-1).astype(np.int64)).sum())
    predicted = outputs.reshape(-1) > 0.5
    return int((predicted == (targets.reshape(-1) > 0.5)).sum())
