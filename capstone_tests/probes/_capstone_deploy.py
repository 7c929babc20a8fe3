"""Capstone probes for model optimisation (P5: pruning, quantization) and efficiency (P7).

P5 models have weights of which a known fraction is tiny (see `prunable_init`), so pruning at that
fraction must leave the function almost unchanged, and int8 must stay within its rounding error. P7
probes only do the work; time and peak memory are measured around them by the trusted side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from . import _capstone_models as m
from ._common import float32, rng, trainable, values_later, view_later


def _prunable_model(tt: Resolver, c: dict[str, Any]) -> m.Mlp:
    return m.build_mlp(tt, m.prunable_init(c, c["sizes"], c["sparsity"]), ["relu"])


def eval_inputs(c: dict[str, Any]) -> np.ndarray:
    return float32(rng(c, m.INPUTS).standard_normal((c["n_eval"], c["sizes"][0])))


def _quantize(tt: Resolver, model: m.Mlp) -> dict[str, Any]:
    """quantize_model on the model; afterwards `model.layers` holds quantized layers in every edition."""
    stack = model.stack
    before = list(stack.layers)
    report = tt.quantize_model(stack)
    after = list(stack.layers)
    # The report by value (a dict of numbers, or what the edition returns instead), read with the identities.
    kept, report = tt.materialize([[view_later("same", a, b) for a, b in zip(before, after, strict=False)], report])
    in_place = not all(kept)
    if not in_place:
        # Editions whose quantize_model only reports totals: quantize each Linear through QuantizedLinear.
        linear = tt.Linear
        is_linear = tt.materialize([view_later("is_instance", layer, linear) for layer in after])
        stack.layers = [tt.QuantizedLinear(layer) if found else layer for layer, found in zip(after, is_linear,
                                                                                               strict=True)]
    ratio = report.get("compression_ratio") if isinstance(report, dict) else None
    if ratio is None:
        # Editions whose quantize_model returns None: the layers' own memory reports give the ratio.
        layers = list(stack.layers)
        reporting = tt.materialize([view_later("is_callable", view_later("attr_or_none", layer, "memory_usage"))
                                  for layer in layers])
        usages = tt.materialize([layer.memory_usage() for layer, found in zip(layers, reporting, strict=True)
                                 if found])
        original = sum(u["original_bytes"] for u in usages)
        quantized = sum(u["quantized_bytes"] for u in usages)
        ratio = original / quantized if quantized else None
    return {"compression_ratio": None if ratio is None else float(ratio), "replaced_in_place": in_place}


def _prune(tt: Resolver, model: m.Mlp, sparsity: float) -> list[Any]:
    tt.magnitude_prune(model.stack, sparsity=sparsity)
    return m.weights_of(model)


def _logits(tt: Resolver, model: m.Mlp, c: dict[str, Any]) -> Any:
    return values_later(model.forward(tt.Tensor(eval_inputs(c))))


# ------------------------------------------------------------------------------------------- P5
def test_quantization_pipeline(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model = m.build_mlp(tt, m.mlp_init(challenge, challenge["sizes"]), ["relu"])
    facts = _quantize(tt, model)
    return facts | {"logits": _logits(tt, model, challenge)}


def test_pruning_pipeline(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model = _prunable_model(tt, challenge)
    pruned = _prune(tt, model, challenge["sparsity"])
    return {"weights": pruned, "logits": _logits(tt, model, challenge)}


def test_combined_optimization_deployment(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model = _prunable_model(tt, challenge)
    pruned = _prune(tt, model, challenge["sparsity"])
    facts = _quantize(tt, model)
    return facts | {"weights": pruned, "logits": _logits(tt, model, challenge)}


# ------------------------------------------------------------------------------------------- P7
def _training_setup(tt: Resolver, c: dict[str, Any]) -> tuple[m.Mlp, Any, Any, Any, Any]:
    tt.enable_autograd()
    model = m.build_mlp(tt, m.mlp_init(c, c["sizes"]), ["relu"] * (len(c["sizes"]) - 2))
    optimizer = tt.Adam(trainable(model.parameters()), lr=c["lr"])
    r = rng(c, m.INPUTS)
    x = tt.Tensor(r.standard_normal((c["batch"], c["sizes"][0]), dtype=np.float32))
    y = tt.Tensor(float32(r.integers(0, c["sizes"][-1], c["batch"])))
    return model, optimizer, tt.CrossEntropyLoss(), x, y


def _step(model: m.Mlp, optimizer: Any, loss_fn: Any, x: Any, y: Any) -> Any:
    """One training step; its loss's values, read later (nothing waits between steps)."""
    optimizer.zero_grad()
    loss = loss_fn(model.forward(x), y)
    loss.backward()
    optimizer.step()
    return values_later(loss)


def test_memory_efficiency(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model, optimizer, loss_fn, x, y = _training_setup(tt, challenge)
    loss = _step(model, optimizer, loss_fn, x, y)
    # The raw .data of a Tensor the student's ops made (a forward pass with the updated weights), not a
    # numpy copy of it: the check wants to see what Tensors really hold.
    read = tt.materialize({"loss": loss, "outputs": model.forward(x).data})
    return {"loss": m.scalar(read["loss"]), "outputs": read["outputs"]}


def test_training_performance(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    model, optimizer, loss_fn, x, y = _training_setup(tt, challenge)
    losses = []
    for _ in range(challenge["steps"]):
        losses.append(_step(model, optimizer, loss_fn, x, y))
        # Each step waits for the last: the grader times a run of `steps` and one of 3 x `steps`, and the
        # student's process must not learn which one it is in by reading ahead in its requests.
        tt.settle()
    return {"losses": m.scalars(tt.materialize(losses))}
