"""Module 16: compression by pruning.

"Weights" are parameters with two or more axes (Linear and Conv2d weights, embedding tables); biases and
normalisation scales (one axis) are never pruned by magnitude: they are few, and zeroing them shifts
every activation. All functions work in place on `.data` and find parameters through
`model.parameters()`, or `model.layers` when there is no `parameters()`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.layers import Linear
from ..core.spatial import Conv2d
from ..core.tensor import Tensor

__all__ = ["Compressor", "compress_model", "magnitude_prune", "measure_sparsity", "structured_prune"]


def _parameters(model: Any) -> list[Tensor]:
    if callable(getattr(model, "parameters", None)):
        found = list(model.parameters())
    else:
        found = [p for layer in getattr(model, "layers", []) for p in _parameters(layer)]
    unique = {id(p): p for p in found}
    return list(unique.values())


def _layers(model: Any) -> list[Any]:
    """Every layer reachable through `.layers` lists, depth first."""
    found = []
    for layer in getattr(model, "layers", [model]):
        nested = getattr(layer, "layers", None)
        found.extend(_layers(layer) if isinstance(nested, list) and layer is not model else [layer])
    return found


def _weights(model: Any) -> list[Tensor]:
    return [p for p in _parameters(model) if p.data.ndim >= 2]


def _zero_smallest(values: np.ndarray, count: int) -> np.ndarray:
    """Boolean mask of the `count` smallest entries of a flat array (exactly `count`, even with ties)."""
    mask = np.zeros(values.size, dtype=bool)
    if count > 0:
        mask[np.argpartition(values, count - 1)[:count]] = True
    return mask


def magnitude_prune(model: Any, sparsity: float = 0.5, per_layer: bool = False) -> Any:
    """Zero the smallest-magnitude weights so that exactly round(sparsity * n) of them are zero.

    Global (default): one threshold across all weights, so layers with many small weights lose more.
    `per_layer=True`: each weight tensor is pruned to `sparsity` on its own. Returns the model.
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    weights = _weights(model)
    if not weights:
        return model
    if per_layer:
        for w in weights:
            mask = _zero_smallest(np.abs(w.data).reshape(-1), round(sparsity * w.data.size))
            w.data[mask.reshape(w.data.shape)] = 0.0
        return model
    magnitudes = np.concatenate([np.abs(w.data).reshape(-1) for w in weights])
    mask = _zero_smallest(magnitudes, round(sparsity * magnitudes.size))
    start = 0
    for w in weights:
        stop = start + w.data.size
        w.data[mask[start:stop].reshape(w.data.shape)] = 0.0
        start = stop
    return model


def structured_prune(model: Any, prune_ratio: float = 0.5) -> Any:
    """Remove whole output units with the smallest L2 norm: Linear columns (weight is (in, out)) and
    Conv2d filters. The unit's bias is zeroed too, so it contributes nothing. Returns the model."""
    if not 0.0 <= prune_ratio <= 1.0:
        raise ValueError(f"prune_ratio must be in [0, 1], got {prune_ratio}")
    for layer in _layers(model):
        if isinstance(layer, Linear):
            norms = np.linalg.norm(layer.weight.data, axis=0)
            drop = _zero_smallest(norms, int(prune_ratio * norms.size))
            layer.weight.data[:, drop] = 0.0
        elif isinstance(layer, Conv2d):
            norms = np.linalg.norm(layer.weight.data.reshape(layer.out_channels, -1), axis=1)
            drop = _zero_smallest(norms, int(prune_ratio * norms.size))
            layer.weight.data[drop] = 0.0
        else:
            continue
        if layer.bias is not None:
            layer.bias.data[drop] = 0.0
    return model


def measure_sparsity(model: Any) -> float:
    """Fraction (0-1) of exactly-zero entries over all parameters, biases included."""
    params = _parameters(model)
    total = sum(p.data.size for p in params)
    zeros = sum(int(np.count_nonzero(p.data == 0)) for p in params)
    return zeros / total if total else 0.0



def compress_model(model: Any, config: dict[str, float]) -> tuple[Any, dict[str, float]]:
    """Magnitude pruning (`config["magnitude_sparsity"]`), then structured pruning
    (`config["structured_prune_ratio"]`), each only if given; returns the model and its sparsity before
    and after, with the compression ratio a sparse format of the non-zero entries would give."""
    unknown = set(config) - {"magnitude_sparsity", "structured_prune_ratio"}
    if unknown:
        raise ValueError(f"unknown compression settings {sorted(unknown)}")
    before = measure_sparsity(model)
    if "magnitude_sparsity" in config:
        magnitude_prune(model, config["magnitude_sparsity"])
    if "structured_prune_ratio" in config:
        structured_prune(model, config["structured_prune_ratio"])
    after = measure_sparsity(model)
    ratio = 1.0 / (1.0 - after) if after < 1.0 else float("inf")
    return model, {"original_sparsity": before, "final_sparsity": after, "compression_ratio": ratio}


class Compressor:
    """The functions above under the one name the course's later modules import (`Compressor.magnitude_prune`)."""

    measure_sparsity = staticmethod(measure_sparsity)
    magnitude_prune = staticmethod(magnitude_prune)
    structured_prune = staticmethod(structured_prune)
    compress_model = staticmethod(compress_model)
