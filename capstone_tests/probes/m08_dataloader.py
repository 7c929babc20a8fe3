"""Module 08 (dataloader) probes: what TensorDataset and DataLoader hand out, batch by batch.

Every sample carries its own index in feature column 0 and a label derived from it, so the check can
tell from the batches alone which samples came out, in which order, and whether rows stayed aligned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, rng, values


def sample_data(challenge: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, f) with the sample id in column 0, and labels 3 * id + 1 (exact in float32)."""
    r = rng(challenge)
    n, f = challenge["n"], challenge["features"]
    x = float32(r.standard_normal((n, f)))
    x[:, 0] = np.arange(n, dtype=np.float32)
    y = float32(np.arange(n) * 3 + 1)
    return x, y


def _loader(tt: Resolver, challenge: dict[str, Any], shuffle: bool) -> Any:
    x, y = sample_data(challenge)
    dataset = tt.TensorDataset(tt.Tensor(x), tt.Tensor(y))
    return tt.DataLoader(dataset, batch_size=challenge["batch_size"], shuffle=shuffle)


def _batches(loader: Any) -> list[dict[str, Any]]:
    """Each batch as raw facts: how many fields, their types, and their values."""
    found = []
    for batch in loader:
        fields = list(batch) if isinstance(batch, (tuple, list)) else [batch]
        found.append({
            "fields": len(fields),
            "types": [type(f).__name__ for f in fields],
            "values": [values(f) for f in fields],
        })
    return found


def test_tensor_dataset_indexing(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x, y = sample_data(challenge)
    dataset = tt.TensorDataset(tt.Tensor(x), tt.Tensor(y))
    items = []
    for index in challenge["indices"]:
        sample = dataset[index]
        fields = list(sample) if isinstance(sample, (tuple, list)) else [sample]
        items.append({"fields": len(fields), "values": [values(f) for f in fields]})
    return {"length": len(dataset), "items": items}


def test_batch_count_is_ceil(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    counts = []
    for case in challenge["cases"]:
        loader = _loader(tt, {**challenge, **case}, shuffle=False)
        counts.append({"len": len(loader), "iterated": sum(1 for _ in loader)})
    return {"counts": counts}


def test_last_partial_batch(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"batches": _batches(_loader(tt, challenge, shuffle=False))}


def test_batches_are_tensors(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    loader = _loader(tt, challenge, shuffle=False)
    tensor_type = type(tt.Tensor(float32([0.0])))
    batch = next(iter(loader))
    fields = list(batch) if isinstance(batch, (tuple, list)) else [batch]
    return {
        "batch_type": type(batch).__name__,
        "fields": len(fields),
        "are_tensors": [isinstance(f, tensor_type) for f in fields],
        "types": [type(f).__name__ for f in fields],
    }


def test_shuffle_covers_every_sample_once(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"batches": _batches(_loader(tt, challenge, shuffle=True))}


def test_shuffle_reorders(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    loader = _loader(tt, challenge, shuffle=True)
    return {"epochs": [_batches(loader) for _ in range(challenge["epochs"])]}
