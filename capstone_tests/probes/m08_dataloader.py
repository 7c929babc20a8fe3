"""Module 08 (dataloader) probes: what TensorDataset and DataLoader hand out, batch by batch.

Every sample carries its own index in feature column 0 and a label derived from it, so the check can
tell from the batches alone which samples came out, in which order, and whether rows stayed aligned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, rng, values_later, view_later


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


def _fields(tt: Resolver, items: list[Any]) -> list[list[Any]]:
    """Each batch's (or sample's) fields: the items of a tuple or list, else the object itself as its one field.
    Two round trips for all the items together."""
    sequences = tt.materialize([view_later("is_instance", item, "sequence") for item in items])
    counts = tt.materialize([view_later("length", item) if sequence else 1
                             for item, sequence in zip(items, sequences, strict=True)])
    return [[item[i] for i in range(count)] if sequence else [item]
            for item, sequence, count in zip(items, sequences, counts, strict=True)]


def _facts(fields: list[Any]) -> dict[str, Any]:
    """One batch as raw facts: how many fields, their types, and their values (read when the probe returns)."""
    return {"fields": len(fields), "types": [view_later("type_name", f) for f in fields],
            "values": [values_later(f) for f in fields]}


def _epochs(tt: Resolver, loader: Any, epochs: int) -> list[list[dict[str, Any]]]:
    """`epochs` passes over the loader, each a list of its batches' facts."""
    passes = [list(loader) for _ in range(epochs)]
    fields = iter(_fields(tt, [batch for batches in passes for batch in batches]))
    return [[_facts(next(fields)) for _ in batches] for batches in passes]


def test_tensor_dataset_indexing(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    x, y = sample_data(challenge)
    dataset = tt.TensorDataset(tt.Tensor(x), tt.Tensor(y))
    samples = [dataset[index] for index in challenge["indices"]]
    items = [{"fields": len(fields), "values": [values_later(f) for f in fields]} for fields in _fields(tt, samples)]
    return {"length": view_later("length", dataset), "items": items}


def test_batch_count_is_ceil(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    counts = []
    for case in challenge["cases"]:
        loader = _loader(tt, {**challenge, **case}, shuffle=False)
        counts.append({"len": view_later("length", loader),
                       "iterated": view_later("length", view_later("as_list", loader))})
    return {"counts": counts}


def test_last_partial_batch(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"batches": _epochs(tt, _loader(tt, challenge, shuffle=False), 1)[0]}


def test_batches_are_tensors(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    loader = _loader(tt, challenge, shuffle=False)
    batch = view_later("first", loader)
    [fields] = _fields(tt, [batch])
    return {
        "batch_type": view_later("type_name", batch),
        "fields": len(fields),
        "are_tensors": [view_later("is_instance", f, tt.Tensor) for f in fields],
        "types": [view_later("type_name", f) for f in fields],
    }


def test_shuffle_covers_every_sample_once(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    return {"batches": _epochs(tt, _loader(tt, challenge, shuffle=True), 1)[0]}


def test_shuffle_reorders(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    loader = _loader(tt, challenge, shuffle=True)
    return {"epochs": _epochs(tt, loader, challenge["epochs"])}
