"""Module 07 (training) probes: Trainer's epochs, accumulation, clipping and evaluation; the schedule.

The data loader is a plain list of (inputs, targets) Tensor pairs, which every edition's Trainer
iterates, so these tests do not depend on module 08. Models start from the challenge's weights, so the
check can replay every step in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._capstone_tour import USES, tour
from ._common import float32, grad_later, trainable, values_later, values_snapshot, view_later


def _linear(tt: Resolver, weight: Any, bias: Any) -> Any:
    w = float32(weight)
    layer = tt.Linear(w.shape[0], w.shape[1])
    layer.weight.data = w
    layer.bias.data = float32(bias)
    return layer


def _batches(tt: Resolver, challenge: dict[str, Any], labels: bool = False) -> list[tuple[Any, Any]]:
    x = float32(challenge["x"])
    y = np.asarray(challenge["y"], dtype=np.int64) if labels else float32(challenge["y"])
    n = challenge["batch_size"]
    return [(tt.Tensor(x[i:i + n]), tt.Tensor(y[i:i + n])) for i in range(0, len(x), n)]


def _linear_model(tt: Resolver, challenge: dict[str, Any]) -> tuple[Any, Any]:
    layer = _linear(tt, challenge["weight"], challenge["bias"])
    model = _stack(tt, [layer])
    trainable(model.parameters())
    return model, layer


def _stack(tt: Resolver, layers: list[Any]) -> Any:
    """The smallest model object every Trainer edition accepts: forward (calling each layer), parameters(),
    training; built beside the student's objects."""
    return tt.new("Stack", layers, call_layers=True)


def _read(tt: Resolver, numbers: dict[str, Any], **arrays: Any) -> dict[str, Any]:
    """The artefacts, read in one round trip: each of `numbers` (a float, an array or a Tensor the student's
    code returned) as its first number, and `arrays` (values_later(...) of the layer's parameters) as they are."""
    read = tt.materialize({"numbers": {key: values_snapshot(value) for key, value in numbers.items()},
                           "arrays": arrays})
    return {**{key: float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
               for key, value in read["numbers"].items()}, **read["arrays"]}


def test_train_epoch_sgd_updates(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model, layer = _linear_model(tt, challenge)
    trainer = tt.Trainer(model, tt.SGD(model.parameters(), lr=challenge["lr"]), tt.MSELoss())
    loss = trainer.train_epoch(_batches(tt, challenge))
    return _read(tt, {"loss": loss}, weight=values_later(layer.weight), bias=values_later(layer.bias)) | {
        "tour": tour(tt, challenge, USES["test_train_epoch_sgd_updates"])}


def test_loss_falls_over_epochs(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model = _stack(tt, [_linear(tt, challenge["w1"], challenge["b1"]), tt.ReLU(),
                        _linear(tt, challenge["w2"], challenge["b2"])])
    trainable(model.parameters())
    optimizer = tt.SGD(model.parameters(), lr=challenge["lr"], momentum=challenge["momentum"])
    trainer = tt.Trainer(model, optimizer, tt.MSELoss())
    batches = _batches(tt, challenge)
    losses = _read(tt, {str(epoch): trainer.train_epoch(batches) for epoch in range(challenge["epochs"])})
    return {"losses": list(losses.values()), "tour": tour(tt, challenge, USES["test_loss_falls_over_epochs"])}


def test_gradient_accumulation_equals_big_batch(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model, layer = _linear_model(tt, challenge)
    trainer = tt.Trainer(model, tt.SGD(model.parameters(), lr=challenge["lr"]), tt.MSELoss())
    loss = trainer.train_epoch(_batches(tt, challenge), accumulation_steps=challenge["accumulation_steps"])
    return _read(tt, {"loss": loss}, weight=values_later(layer.weight), bias=values_later(layer.bias)) | {
        "tour": tour(tt, challenge, USES["test_gradient_accumulation_equals_big_batch"])}


def test_trainer_clips_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model, layer = _linear_model(tt, challenge)
    trainer = tt.Trainer(model, tt.SGD(model.parameters(), lr=challenge["lr"]), tt.MSELoss(),
                         grad_clip_norm=challenge["max_norm"])
    trainer.train_epoch(_batches(tt, challenge))
    return {"weight": values_later(layer.weight), "bias": values_later(layer.bias),
            "tour": tour(tt, challenge, USES["test_trainer_clips_gradients"])}


def test_evaluate_loss_and_accuracy(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model, layer = _linear_model(tt, challenge)
    trainer = tt.Trainer(model, tt.SGD(model.parameters(), lr=0.1), tt.CrossEntropyLoss())
    result = trainer.evaluate(_batches(tt, challenge, labels=True))
    loss, accuracy = result  # the contract: a (loss, accuracy) pair
    return _read(tt, {"loss": loss, "accuracy": accuracy}, weight=values_later(layer.weight),
                 bias=values_later(layer.bias))


def test_clip_grad_norm(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    facts: dict[str, Any] = {}
    norms: dict[str, Any] = {}
    for case in ("large", "small"):
        params = [tt.Tensor(float32(p), requires_grad=True) for p in challenge["params"]]
        loss = None
        for p, g in zip(params, challenge[case], strict=True):
            term = (p * tt.Tensor(float32(g))).sum()  # leaves exactly g in p.grad
            loss = term if loss is None else loss + term
        loss.backward()
        norm = tt.clip_grad_norm(params, max_norm=challenge["max_norm"])
        norms[f"{case}_norm"] = norm
        facts[f"{case}_grads"] = [grad_later(p) for p in params]
    return _read(tt, norms, **facts)


def test_cosine_schedule(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    schedule = tt.CosineSchedule(max_lr=challenge["max_lr"], min_lr=challenge["min_lr"],
                                 total_epochs=challenge["total_epochs"])
    return {"lrs": [view_later("to_float", schedule.get_lr(epoch)) for epoch in challenge["epochs"]]}
