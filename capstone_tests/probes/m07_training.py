"""Module 07 (training) probes: Trainer's epochs, accumulation, clipping and evaluation; the schedule.

The data loader is a plain list of (inputs, targets) Tensor pairs, which every edition's Trainer
iterates, so these tests do not depend on module 08. Models start from the challenge's weights, so the
check can replay every step in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, grad_of, trainable, values


class _Stack:
    """The smallest model object every Trainer edition accepts: forward, parameters(), training."""

    def __init__(self, layers: list[Any]) -> None:
        self.layers = layers
        self.training = True

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for p in (getattr(layer, "parameters", list)())]


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
    model = _Stack([layer])
    trainable(model.parameters())
    return model, layer


def _number(value: Any) -> float:
    return float(np.asarray(values(value), dtype=np.float64).reshape(-1)[0])


def test_train_epoch_sgd_updates(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model, layer = _linear_model(tt, challenge)
    trainer = tt.Trainer(model, tt.SGD(model.parameters(), lr=challenge["lr"]), tt.MSELoss())
    loss = trainer.train_epoch(_batches(tt, challenge))
    return {"loss": _number(loss), "weight": values(layer.weight), "bias": values(layer.bias)}


def test_loss_falls_over_epochs(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model = _Stack([_linear(tt, challenge["w1"], challenge["b1"]), tt.ReLU(),
                    _linear(tt, challenge["w2"], challenge["b2"])])
    trainable(model.parameters())
    optimizer = tt.SGD(model.parameters(), lr=challenge["lr"], momentum=challenge["momentum"])
    trainer = tt.Trainer(model, optimizer, tt.MSELoss())
    batches = _batches(tt, challenge)
    return {"losses": [_number(trainer.train_epoch(batches)) for _ in range(challenge["epochs"])]}


def test_gradient_accumulation_equals_big_batch(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model, layer = _linear_model(tt, challenge)
    trainer = tt.Trainer(model, tt.SGD(model.parameters(), lr=challenge["lr"]), tt.MSELoss())
    loss = trainer.train_epoch(_batches(tt, challenge), accumulation_steps=challenge["accumulation_steps"])
    return {"loss": _number(loss), "weight": values(layer.weight), "bias": values(layer.bias)}


def test_trainer_clips_gradients(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model, layer = _linear_model(tt, challenge)
    trainer = tt.Trainer(model, tt.SGD(model.parameters(), lr=challenge["lr"]), tt.MSELoss(),
                         grad_clip_norm=challenge["max_norm"])
    trainer.train_epoch(_batches(tt, challenge))
    return {"weight": values(layer.weight), "bias": values(layer.bias)}


def test_evaluate_loss_and_accuracy(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    model, layer = _linear_model(tt, challenge)
    trainer = tt.Trainer(model, tt.SGD(model.parameters(), lr=0.1), tt.CrossEntropyLoss())
    result = trainer.evaluate(_batches(tt, challenge, labels=True))
    loss, accuracy = result  # the contract: a (loss, accuracy) pair
    return {"loss": _number(loss), "accuracy": _number(accuracy), "weight": values(layer.weight),
            "bias": values(layer.bias)}


def test_clip_grad_norm(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    facts: dict[str, Any] = {}
    for case in ("large", "small"):
        params = [tt.Tensor(float32(p), requires_grad=True) for p in challenge["params"]]
        loss = None
        for p, g in zip(params, challenge[case], strict=True):
            term = (p * tt.Tensor(float32(g))).sum()  # leaves exactly g in p.grad
            loss = term if loss is None else loss + term
        loss.backward()
        norm = tt.clip_grad_norm(params, max_norm=challenge["max_norm"])
        facts[f"{case}_norm"] = _number(norm)
        facts[f"{case}_grads"] = [grad_of(p) for p in params]
    return facts


def test_cosine_schedule(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    schedule = tt.CosineSchedule(max_lr=challenge["max_lr"], min_lr=challenge["min_lr"],
                                 total_epochs=challenge["total_epochs"])
    return {"lrs": [float(schedule.get_lr(epoch)) for epoch in challenge["epochs"]]}
