"""Module 08: datasets and batching."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["DataLoader", "Dataset", "TensorDataset"]


class Dataset(ABC):
    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index: int) -> Any: ...


class TensorDataset(Dataset):
    """Samples are aligned rows of several tensors (say features and labels)."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        lengths = {len(t.data) for t in self.tensors}
        if len(lengths) != 1:
            raise ValueError(f"all tensors must have the same first dimension, got {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.tensors[0].data)

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor(t.data[index]) for t in self.tensors)


class DataLoader:
    """Batches of a dataset as tuples of Tensors; the last batch may be smaller."""

    def __init__(self, dataset: Dataset, batch_size: int = 32, shuffle: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        # The global numpy RNG, so np.random.seed makes shuffling reproducible.
        order = np.random.permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            # Unshuffled batches are slices (views, no copy); shuffled ones one fancy-index per array.
            rows = slice(start, stop) if order is None else order[start:stop]
            if isinstance(self.dataset, TensorDataset):
                yield tuple(Tensor(t.data[rows]) for t in self.dataset.tensors)
            else:
                indices = range(start, stop) if order is None else order[start:stop]
                yield _collate([self.dataset[int(i)] for i in indices])


def _collate(samples: list[Any]) -> tuple[Tensor, ...]:
    """Stack per-field: a list of (x, y) samples becomes (X, Y)."""
    if not isinstance(samples[0], (tuple, list)):
        samples = [(sample,) for sample in samples]
    fields = zip(*samples, strict=True)
    return tuple(Tensor(np.stack([np.asarray(getattr(v, "data", v)) for v in field])) for field in fields)
