"""Capstone probes: whole pipelines built from the student's modules, within the safe subset.

Each probe trains or runs a model whose weights come from the challenge seed and returns raw facts
(weights, outputs, gradients, losses); the checks re-evaluate them in float64 on data of their own.
The optimisation (P5) and efficiency (P7) probes live in `_capstone_deploy`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from . import _capstone_models as m
from ._capstone_deploy import (
    test_combined_optimization_deployment,
    test_memory_efficiency,
    test_pruning_pipeline,
    test_quantization_pipeline,
    test_training_performance,
)
from ._capstone_tour import USES, tour
from ._common import float32, grad_later, grad_snapshot, rng, trainable, values_later, view_later

__all__ = [
    "test_binary_classification_convergence", "test_cnn_architecture_integration",
    "test_combined_optimization_deployment", "test_complete_ml_pipeline_end_to_end",
    "test_deep_network_gradient_flow", "test_gradient_accumulation_correctness", "test_inference_pipeline",
    "test_memory_efficiency", "test_mlp_architecture_integration", "test_pruning_pipeline",
    "test_quantization_pipeline", "test_training_performance", "test_transformer_architecture_integration",
    "test_xor_convergence",
]

# Probes here drive the student's objects without waiting: what they read (losses, weights, gradients) is
# collected as values_later / snapshots and read in one batch, by `tt.materialize` or when the probe returns.


def _labels(tt: Resolver, y: np.ndarray) -> Any:
    return tt.Tensor(float32(y))


# ------------------------------------------------------------------------------------------- P1
def test_complete_ml_pipeline_end_to_end(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    tt.seed_numpy(challenge["numpy_seed"])  # DataLoader shuffling draws from numpy's global generator
    x, y = m.blobs(challenge, m.TRAIN, challenge["n_train"])
    model = m.build_mlp(tt, m.mlp_init(challenge, challenge["sizes"]), ["relu", "relu"])
    params = trainable(model.parameters())
    optimizer = tt.Adam(params, lr=challenge["lr"])
    loss_fn = tt.CrossEntropyLoss()
    # Two steps on the first two batches by hand, so a check can compare Adam's first updates exactly.
    batch = challenge["batch_size"]
    early_losses, early_weights = [], []
    for k in range(2):
        rows = slice(k * batch, (k + 1) * batch)
        loss = loss_fn(model.forward(tt.Tensor(x[rows])), _labels(tt, y[rows]))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        early_losses.append(values_later(loss))
        early_weights.append(m.weights_of(model))
    loader = tt.DataLoader(tt.TensorDataset(tt.Tensor(x), _labels(tt, y)), batch_size=batch, shuffle=True)
    trainer = tt.Trainer(model.stack, optimizer, loss_fn)
    epoch_losses = [view_later("to_float", trainer.train_epoch(loader)) for _ in range(challenge["epochs"])]
    read = tt.materialize({"first_loss": early_losses[0], "after_first_step": early_weights[0],
                           "after_second_step": early_weights[1], "epoch_losses": epoch_losses,
                           "weights": m.weights_of(model),
                           "tour": tour(tt, challenge, USES["test_complete_ml_pipeline_end_to_end"])})
    return read | {"first_loss": m.scalar(read["first_loss"]), "epoch_losses": np.asarray(read["epoch_losses"])}


# ------------------------------------------------------------------------------------------- P2
def test_mlp_architecture_integration(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    sizes = challenge["sizes"]
    model = m.build_mlp(tt, m.mlp_init(challenge, sizes), ["relu", "sigmoid"])
    x, y = m.classification_batch(challenge, challenge["batch"], sizes[0], sizes[-1])
    params = trainable(model.parameters())
    logits = model.forward(tt.Tensor(x))
    loss = tt.CrossEntropyLoss()(logits, _labels(tt, y))
    loss.backward()
    read = tt.materialize({"logits": values_later(logits), "loss": values_later(loss),
                           "grads": [grad_later(p) for p in params], "params": [values_later(p) for p in params],
                           "tour": tour(tt, challenge, USES["test_mlp_architecture_integration"])})
    return {"logits": read["logits"], "loss": m.scalar(read["loss"]), "grads": read["grads"], "tour": read["tour"],
            "param_count": int(sum(p.size for p in read["params"])), "param_tensors": len(params)}


def test_cnn_architecture_integration(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    c = challenge
    conv_w, conv_b, fc_w, fc_b = m.cnn_init(c)
    conv = tt.Conv2d(c["in_channels"], c["out_channels"], c["kernel"], stride=c["stride"], padding=c["padding"])
    conv.weight.data, conv.bias.data = conv_w, conv_b
    fc = m.linear(tt, fc_w, fc_b)
    params = trainable([conv.weight, conv.bias]) + list(fc.parameters())
    x, y = m.cnn_batch(c)
    conv_out = conv.forward(tt.Tensor(x))
    pooled = tt.MaxPool2d(2).forward(tt.ReLU().forward(conv_out))
    conv_shape, pooled_shape = (list(shape) for shape in tt.materialize([conv_out.shape, pooled.shape]))
    facts: dict[str, Any] = {"conv_shape": conv_shape, "pooled_shape": pooled_shape}
    if int(np.prod(pooled_shape)) != c["batch"] * c["flat"]:
        return facts  # the check names the wrong shape; the rest cannot be built
    logits = fc.forward(pooled.reshape(c["batch"], -1))
    loss = tt.CrossEntropyLoss()(logits, _labels(tt, y))
    loss.backward()
    read = tt.materialize({"conv_out": values_later(conv_out), "logits": values_later(logits),
                           "loss": values_later(loss), "grads": [grad_later(p) for p in params],
                           "tour": tour(tt, c, USES["test_cnn_architecture_integration"])})
    return facts | read | {"loss": m.scalar(read["loss"])}


def test_transformer_architecture_integration(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    c = challenge
    batch, seq, d, vocab = c["batch"], c["seq"], c["embed_dim"], c["vocab"]
    weights = m.attention_init(c)
    embedding = tt.Embedding(vocab, d)
    embedding.weight.data = weights[0]
    attention = tt.MultiHeadAttention(d, c["heads"])
    projections = [getattr(attention, name) for name in m.ATTENTION_PROJECTIONS]
    for i, projection in enumerate(projections):
        projection.weight.data, projection.bias.data = weights[1 + 2 * i], weights[2 + 2 * i]
    head = m.linear(tt, weights[-2], weights[-1])
    params = trainable([embedding.weight] + [p for proj in projections for p in (proj.weight, proj.bias)])
    params += list(head.parameters())
    positions = tt.PositionalEncoding(seq + 2, d)
    tokens, targets, altered = m.lm_batch(c)
    mask = tt.create_causal_mask(seq)

    def logits_of(ids: np.ndarray) -> Any:
        x = positions.forward(embedding.forward(tt.Tensor(float32(ids))))
        return head.forward(attention.forward(x, mask))

    logits = logits_of(tokens)
    loss = tt.CrossEntropyLoss()(logits.reshape(batch * seq, vocab), _labels(tt, targets.reshape(-1)))
    loss.backward()
    # The learned position table is the student's own (random) one; the check reads it off here.
    table = values_later(positions.forward(tt.Tensor(np.zeros((1, seq, d), dtype=np.float32))))
    # A whole pre-norm block: only its shape and causality are checked (LayerNorm's gradient is not in
    # the safe subset, and its internal weights are not in the contract).
    block = tt.TransformerBlock(d, c["heads"], mlp_ratio=2, dropout_prob=0.0)
    x_block = float32(rng(c, m.EXTRA).standard_normal((batch, seq, d)))
    x_altered = x_block.copy()
    x_altered[:, c["cut"]:] += float32(rng(c, m.CENTERS).standard_normal((batch, seq - c["cut"], d)))
    read = tt.materialize({
        "logits": values_later(logits), "altered_logits": values_later(logits_of(altered)),
        "loss": values_later(loss), "grads": [grad_later(p) for p in params], "position_table": table,
        "attention_parameters": view_later("length", attention.parameters()),
        "block_out": values_later(block.forward(tt.Tensor(x_block), mask)),
        "block_altered": values_later(block.forward(tt.Tensor(x_altered), mask)),
        "tour": tour(tt, c, USES["test_transformer_architecture_integration"])})
    return read | {"loss": m.scalar(read["loss"])}


# ------------------------------------------------------------------------------------------- P3
def _full_batch_training(tt: Resolver, model: m.Mlp, optimizer: Any, loss_fn: Any, x: np.ndarray,
                         y: np.ndarray, steps: int) -> dict[str, Any]:
    """Losses of every step, the weights after the first two steps and at the end. Nothing here waits for the
    student's process: the losses are values_later and the weights snapshots, read by the caller all at once."""
    inputs, targets = tt.Tensor(x), tt.Tensor(float32(y).reshape(-1, 1))
    losses, early = [], []
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model.forward(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(values_later(loss))
        if step < 2:
            early.append(m.weights_of(model))
    return {"losses": losses, "early_weights": early, "weights": m.weights_of(model)}


def _read_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run of _full_batch_training, read already (by tt.materialize), with its losses as a float array."""
    return run | {"losses": m.scalars(run["losses"])}


def xor_init(challenge: dict[str, Any], stream: int) -> m.Weights:
    """Hidden units facing evenly spread directions, each hyperplane near the centre of the unit square:
    no unit starts dead, so 2-8-1 learns XOR from every seed (a plain random start gets stuck ~2%)."""
    r = rng(challenge, stream)
    hidden = challenge["hidden"]
    theta = r.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(hidden) / hidden + r.uniform(-0.2, 0.2, hidden)
    magnitude = r.uniform(0.8, 1.6, hidden)
    w1 = np.stack([np.cos(theta), np.sin(theta)]) * magnitude
    b1 = -0.5 * w1.sum(axis=0) + r.uniform(-0.3, 0.3, hidden) * magnitude
    w2 = r.standard_normal((hidden, 1)) / np.sqrt(hidden)
    return [(float32(w1), float32(b1)), (float32(w2), np.zeros(1, dtype=np.float32))]


def test_xor_convergence(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    facts: dict[str, Any] = {}
    for name, stream in (("sgd", m.WEIGHTS), ("adam", m.EXTRA)):
        model = m.build_mlp(tt, xor_init(challenge, stream), ["relu", "sigmoid"])
        params = trainable(model.parameters())
        optimizer = tt.SGD(params, lr=challenge["sgd_lr"]) if name == "sgd" else \
            tt.Adam(params, lr=challenge["adam_lr"])
        facts[name] = _full_batch_training(tt, model, optimizer, tt.BinaryCrossEntropyLoss(), m.XOR_X, m.XOR_Y,
                                           challenge["steps"])
    read = tt.materialize(facts | {"tour": tour(tt, challenge, USES["test_xor_convergence"])})
    return {name: _read_run(run) for name, run in read.items() if name != "tour"} | {"tour": read["tour"]}


def test_binary_classification_convergence(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    x, y = m.circle(challenge, m.TRAIN, challenge["n_train"])
    # Smooth units only: the check replays the first steps in float64, and with ReLU a training point
    # sitting within float32 rounding of a kink can flip its derivative between the two.
    model = m.build_mlp(tt, m.binary_init(challenge), ["sigmoid", "sigmoid"])
    params = trainable(model.parameters())
    optimizer = tt.SGD(params, lr=challenge["lr"], momentum=challenge["momentum"])
    run = _full_batch_training(tt, model, optimizer, tt.BinaryCrossEntropyLoss(), x, y, challenge["steps"])
    toured = tour(tt, challenge, USES["test_binary_classification_convergence"])
    return _read_run(tt.materialize(run | {"tour": toured}))


# ------------------------------------------------------------------------------------------- P4
def test_inference_pipeline(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    c = challenge
    weights = m.confident_init(c)
    dropout = tt.Dropout(c["p"])
    model = tt.new("Stack", [m.linear(tt, *weights[0]), tt.ReLU(), dropout, m.linear(tt, *weights[1]),
                             tt.Softmax()], dropout_type=tt.Dropout)
    model.training = False
    x = m.inference_inputs(c)
    ones = tt.Tensor(np.ones((8, c["hidden"]), dtype=np.float32))
    read = tt.materialize({
        "batch": values_later(model.forward(tt.Tensor(x))), "again": values_later(model.forward(tt.Tensor(x))),
        "one_by_one": [values_later(model.forward(tt.Tensor(x[i:i + 1]))) for i in range(c["batch"])],
        "dropout_train": values_later(dropout.forward(ones, training=True)),
        "dropout_eval": values_later(dropout.forward(ones, training=False))})
    return read | {"one_by_one": np.concatenate([row.reshape(1, -1) for row in read["one_by_one"]])}


# ------------------------------------------------------------------------------------------- P6
def test_deep_network_gradient_flow(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    c = challenge
    model = m.build_mlp(tt, m.deep_init(c), c["activations"])
    x, target = m.regression_batch(c)
    params = trainable(model.parameters())
    loss = tt.MSELoss()(model.forward(tt.Tensor(x)), tt.Tensor(target))
    loss.backward()
    # Then every layer type the course teaches a backward for, each alone: this deep stack holds only some.
    read = tt.materialize({"loss": values_later(loss), "grads": [grad_later(p) for p in params],
                           "tour": tour(tt, c, USES["test_deep_network_gradient_flow"])})
    return read | {"loss": m.scalar(read["loss"])}


def test_gradient_accumulation_correctness(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tt.enable_autograd()
    c = challenge
    micro, parts = c["micro"], c["parts"]
    model = m.build_mlp(tt, m.mlp_init(c, c["sizes"]), ["relu"])
    x, y = m.classification_batch(c, micro * parts, c["sizes"][0], c["sizes"][-1])
    params = trainable(model.parameters())
    optimizer = tt.SGD(params, lr=0.1)
    loss_fn = tt.CrossEntropyLoss()

    def backward(rows: slice) -> None:
        loss_fn(model.forward(tt.Tensor(x[rows])), _labels(tt, y[rows])).backward()

    # Gradients as copies taken at each point (an in-place accumulation must not change what we saw).
    optimizer.zero_grad()
    backward(slice(None))
    full = [grad_snapshot(p) for p in params]
    optimizer.zero_grad()
    for part in range(parts):  # no zero_grad in between: gradients must add up
        backward(slice(part * micro, (part + 1) * micro))
    accumulated = [grad_snapshot(p) for p in params]
    optimizer.zero_grad()
    after_reset = [grad_snapshot(p) for p in params]
    backward(slice(0, micro))
    return {"full": full, "accumulated": accumulated, "after_reset": after_reset,
            "first_micro": [grad_snapshot(p) for p in params],
            "tour": tour(tt, c, USES["test_gradient_accumulation_correctness"])}
