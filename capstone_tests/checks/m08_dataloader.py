"""Module 08 (dataloader) checks: indexing, batch counts, the last partial batch, shuffling."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..probes import m08_dataloader as probes
from ..registry import check
from ..verdict import CheckFailed
from . import expect


def _sizes(r: np.random.Generator, divisible: bool = False) -> dict[str, Any]:
    batch_size = int(r.integers(2, 6))
    batches = int(r.integers(2, 5))
    remainder = 0 if divisible else int(r.integers(1, batch_size))
    return {"n": batch_size * batches + remainder, "features": int(r.integers(2, 5)), "batch_size": batch_size}


def _epoch(challenge: dict[str, Any], batches: Any) -> tuple[np.ndarray, list[int]]:
    """The sample ids one epoch delivered, in order, and the batch sizes; checks rows stayed aligned."""
    x, y = probes.sample_data(challenge)
    expect.that(isinstance(batches, list) and len(batches) > 0, "the DataLoader yielded no batches", 8)
    given = {"X (column 0: the sample's id)": x, "y": y, "batch_size": challenge["batch_size"]}
    ids: list[np.ndarray] = []
    sizes: list[int] = []
    for number, batch in enumerate(batches):
        expect.that(batch["fields"] == 2,
                    f"batch {number} has {batch['fields']} fields: a DataLoader over TensorDataset(X, y) must "
                    f"yield (X_batch, y_batch) tuples", 8)
        features = expect.array({"v": batch["values"][0]}, "v", module=8, what=f"batch {number} features")
        labels = expect.array({"v": batch["values"][1]}, "v", module=8, what=f"batch {number} labels")
        expect.that(features.ndim == 2 and features.shape[1] == x.shape[1],
                    f"batch {number} features have shape {features.shape}, expected (batch, {x.shape[1]}): "
                    f"samples must be stacked along a new first axis", 8)
        labels = labels.reshape(-1)
        expect.that(labels.shape[0] == features.shape[0],
                    f"batch {number} has {features.shape[0]} feature rows but {labels.shape[0]} labels", 8)
        batch_ids = features[:, 0].round().astype(np.int64)
        expect.that(bool(np.all((batch_ids >= 0) & (batch_ids < len(x)))),
                    f"batch {number} holds rows that are not samples of the dataset", 8)
        expect.close(features, x[batch_ids], f"batch {number} feature rows", module=8, given=given)
        expect.that(bool(np.array_equal(labels, y[batch_ids])),
                    f"batch {number} labels do not belong to its feature rows: X and y must be indexed with the "
                    f"same sample indices", 8, got=labels.tolist(), expected=y[batch_ids].tolist(),
                    example=expect.example(y[batch_ids], labels, given))
        ids.append(batch_ids)
        sizes.append(int(features.shape[0]))
    return np.concatenate(ids), sizes


def _indexing(r: np.random.Generator) -> dict[str, Any]:
    sizes = _sizes(r)
    return {**sizes, "indices": [int(i) for i in r.permutation(sizes["n"])[:4]]}


def _once_each(ids: np.ndarray, n: int) -> None:
    counts = np.bincount(ids, minlength=n)
    missing = [int(i) for i in np.flatnonzero(counts == 0)]
    repeated = [int(i) for i in np.flatnonzero(counts > 1)]
    if repeated:
        raise CheckFailed(f"a shuffled epoch yielded samples {repeated[:8]} more than once (and missed "
                          f"{missing[:8]}): shuffle a permutation of the indices, do not sample with replacement", 8)
    if missing:
        raise CheckFailed(f"a shuffled epoch never yielded samples {missing[:8]}: every sample must come out "
                          f"exactly once per epoch, including those of the last partial batch", 8)


@check(module=8, challenge=_indexing)
def test_tensor_dataset_indexing(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x, y = probes.sample_data(challenge)
    expect.equal(artefacts["length"], len(x),
                 f"len(TensorDataset) is {artefacts['length']}, expected {len(x)} (the first dimension)", 8,
                 given={"X": x, "y": y})
    for index, item in zip(challenge["indices"], artefacts["items"], strict=True):
        expect.that(item["fields"] == 2,
                    f"dataset[{index}] has {item['fields']} fields: TensorDataset(X, y)[i] must be the tuple "
                    f"(X[i], y[i])", 8)
        given = {"index": index, "X": x, "y": y}
        expect.close(expect.array({"v": item["values"][0]}, "v", module=8, what=f"dataset[{index}][0]"),
                     x[index], f"dataset[{index}][0] (should be X[{index}])", module=8, given=given)
        expect.close(expect.array({"v": item["values"][1]}, "v", module=8, what=f"dataset[{index}][1]").reshape(-1),
                     y[index:index + 1], f"dataset[{index}][1] (should be y[{index}])", module=8, given=given)


def _counting(r: np.random.Generator) -> dict[str, Any]:
    cases = [_sizes(r), _sizes(r, divisible=True)]
    return {"features": cases[0]["features"], "cases": [{k: c[k] for k in ("n", "batch_size")} for c in cases]}


@check(module=8, challenge=_counting)
def test_batch_count_is_ceil(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    for case, counts in zip(challenge["cases"], artefacts["counts"], strict=True):
        n, batch_size = case["n"], case["batch_size"]
        expected = math.ceil(n / batch_size)
        given = {"samples": n, "batch_size": batch_size}
        expect.equal(counts["len"], expected,
                     f"len(DataLoader) is {counts['len']} for {n} samples in batches of {batch_size}, expected "
                     f"ceil({n}/{batch_size}) = {expected} (the last partial batch counts)", 8, given=given)
        expect.equal(counts["iterated"], expected,
                     f"iterating the DataLoader gave {counts['iterated']} batches for {n} samples in batches of "
                     f"{batch_size}, expected ceil({n}/{batch_size}) = {expected}", 8, given=given)


@check(module=8, challenge=_sizes)
def test_last_partial_batch(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    n, batch_size = challenge["n"], challenge["batch_size"]
    ids, sizes = _epoch(challenge, artefacts["batches"])
    expected = [batch_size] * (n // batch_size) + [n % batch_size]
    given = {"samples": n, "batch_size": batch_size, "shuffle": False}
    expect.equal(sizes, expected,
                 f"batch sizes are {sizes}, expected {expected}: every batch but the last is full and the last "
                 f"holds the remaining {n % batch_size} samples (never dropped, never padded)", 8, given=given)
    expect.equal(ids, np.arange(n), "without shuffle the DataLoader must deliver samples in dataset order", 8,
                 given=given)


@check(module=8, challenge=_sizes)
def test_batches_are_tensors(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    expect.that(artefacts["fields"] == 2,
                f"a batch has {artefacts['fields']} fields ({artefacts['batch_type']}), expected the tuple "
                f"(X_batch, y_batch)", 8)
    expect.that(all(artefacts["are_tensors"]),
                f"batch fields are {artefacts['types']}: the DataLoader must yield Tensors, not raw arrays or "
                f"lists", 8)


@check(module=8, challenge=lambda r: {**_sizes(r), "n": int(r.integers(13, 24))})
def test_shuffle_covers_every_sample_once(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    ids, sizes = _epoch(challenge, artefacts["batches"])
    _once_each(ids, challenge["n"])
    expect.that(sum(sizes) == challenge["n"],
                f"a shuffled epoch yielded {sum(sizes)} samples, expected {challenge['n']}", 8)


@check(module=8, challenge=lambda r: {**_sizes(r), "n": int(r.integers(13, 24)), "epochs": 3})
def test_shuffle_reorders(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    n = challenge["n"]
    orders = [_epoch(challenge, epoch)[0] for epoch in artefacts["epochs"]]
    for order in orders:
        _once_each(order, n)
    # Three epochs of 13+ samples in dataset order by chance: probability below 1e-29.
    expect.that(not all(np.array_equal(order, np.arange(n)) for order in orders),
                "with shuffle=True three epochs came out in dataset order: shuffle the indices in __iter__", 8)
    expect.that(not all(np.array_equal(order, orders[0]) for order in orders[1:]),
                "with shuffle=True every epoch came out in the same order: draw a new permutation each "
                "epoch (in __iter__), not once in __init__", 8)
