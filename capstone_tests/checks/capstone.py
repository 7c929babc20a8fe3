"""Capstone checks: whole pipelines judged in float64 from the seed and the probes' raw facts.

Trained weights are re-evaluated here on a held-out stream no probe reads; gradients and outputs are
recomputed from the same seeded weights; P7 compares the trusted side's own measurements with the
reference's. The optimisation and efficiency checks (P5, P7) share helpers in `_capstone_deploy`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..harness import on_reference
from ..probes import _capstone_models as data
from ..probes import capstone as probes
from ..probes._capstone_tour import USES
from ..registry import check
from ..verdict import CheckFailed, Verdict
from . import _capstone_deploy as deploy
from . import _capstone_models as f64
from . import _capstone_steps as steps
from . import _capstone_tour as tour
from . import expect


# ------------------------------------------------------------------------------------------- P1
def _pipeline_challenge(r: np.random.Generator) -> dict[str, Any]:
    features = int(r.integers(4, 9))
    classes = int(r.integers(3, 5))
    hidden = int(r.integers(16, 33))
    return {"features": features, "classes": classes, "spread": float(r.uniform(3.0, 3.5)),
            "sizes": [features, hidden, hidden // 2, classes], "n_train": int(r.integers(160, 241)),
            "batch_size": int(r.choice([16, 24])), "epochs": int(r.integers(8, 11)),
            "lr": float(r.uniform(0.02, 0.04))}


@check(challenge=_pipeline_challenge, uses_reference=True)
def test_complete_ml_pipeline_end_to_end(c: dict[str, Any], a: dict[str, Any]) -> None:
    sizes, batch = c["sizes"], c["batch_size"]
    start = f64.as64(data.mlp_init(c, sizes))
    x, y = data.blobs(c, data.TRAIN, c["n_train"])
    logits = f64.mlp_output(start, ["relu", "relu"], x[:batch])
    expect.close(expect.number(a, "first_loss"), f64.cross_entropy(logits, y[:batch])[0],
                 "the cross-entropy of the first batch (Linear/ReLU forward, then CrossEntropyLoss)",
                 module=4, rtol=1e-4, given={"model": f64.mlp_text(sizes, ["ReLU", "ReLU"]), "x": x[:batch],
                                             "labels": y[:batch], "first layer's weight": start[0][0]})
    with tour.blamed(c, a, USES["test_complete_ml_pipeline_end_to_end"]):
        _pipeline_training(c, a, start)


def _pipeline_training(c: dict[str, Any], a: dict[str, Any], start: f64.Pairs) -> None:
    sizes = c["sizes"]
    reference = on_reference(probes.test_complete_ml_pipeline_end_to_end, c)
    stepped = f64.returned_weights(a, "after_first_step", sizes, "the weights after the first Adam step")
    steps.first_adam_step(start, stepped, f64.pairs(reference["after_first_step"]), f64.layer_names(sizes), c["lr"])
    second = f64.returned_weights(a, "after_second_step", sizes, "the weights after the second Adam step")
    for (w, b), (rw, rb), name in zip(second, f64.pairs(reference["after_second_step"]), f64.layer_names(sizes)[::2],
                                      strict=True):
        for got, want, part in ((w, rw, name), (b, rb, name.replace("weight", "bias"))):
            steps.step_matches(got, want, f"the {part} after a second Adam step (zero_grad(), then the next batch)",
                          "zero_grad must clear the first batch's gradient, and Adam's m and v carry over", c["lr"])
    f64.falling(a.get("epoch_losses"), "per-epoch training (Trainer.train_epoch)")
    final = f64.returned_weights(a, "weights", sizes, "the trained weights")
    held_x, held_y = data.blobs(c, data.HELD_OUT, 600)
    scores = f64.mlp_output(final, ["relu", "relu"], held_x)
    accuracy = f64.accuracy(scores, held_y)
    expect.that(accuracy >= 0.85, f"the trained model classifies only {accuracy:.1%} of held-out points correctly "
                f"(chance is {1 / c['classes']:.0%}, at least 85% expected after {c['epochs']} epochs of Adam)")
    loss_before = f64.cross_entropy(f64.mlp_output(start, ["relu", "relu"], held_x), held_y)[0]
    loss_after = f64.cross_entropy(scores, held_y)[0]
    expect.that(loss_after < 0.5 * loss_before, f"held-out cross-entropy fell only from {loss_before:.3f} to "
                f"{loss_after:.3f} during training (at least halving expected)")


# ------------------------------------------------------------------------------------------- P2
def _mlp_challenge(r: np.random.Generator) -> dict[str, Any]:
    sizes = [int(r.integers(3, 7)), int(r.integers(4, 9)), int(r.integers(4, 9)), int(r.integers(2, 5))]
    return {"sizes": sizes, "batch": int(r.integers(3, 7))}


@check(challenge=_mlp_challenge)
def test_mlp_architecture_integration(c: dict[str, Any], a: dict[str, Any]) -> None:
    sizes, acts = c["sizes"], ["relu", "sigmoid"]
    weights = f64.as64(data.mlp_init(c, sizes))
    x, y = data.classification_batch(c, c["batch"], sizes[0], sizes[-1])
    expected_count = sum(int(np.prod(s)) for s in f64.layer_shapes(sizes))
    expect.that(a.get("param_tensors") == 2 * (len(sizes) - 1) and a.get("param_count") == expected_count,
                f"the MLP reports {a.get('param_tensors')} parameter tensors with {a.get('param_count')} values; "
                f"expected {2 * (len(sizes) - 1)} tensors with {expected_count} values (Linear.parameters() "
                f"must return [weight, bias])", module=3)
    logits = f64.mlp_output(weights, acts, x)
    given = {"model": f64.mlp_text(sizes, ["ReLU", "Sigmoid"]), "x": x, "first layer's weight": weights[0][0]}
    expect.close(expect.array(a, "logits", shape=logits.shape), logits,
                 "the MLP output (Linear -> ReLU -> Linear -> Sigmoid -> Linear)", module=3, rtol=1e-4, given=given)
    loss, dlogits = f64.cross_entropy(logits, y)
    given = {"logits": logits, "labels": y}
    expect.close(expect.number(a, "loss"), loss, "the cross-entropy loss", module=4, rtol=1e-4, given=given)
    with tour.blamed(c, a, USES["test_mlp_architecture_integration"]), expect.given(x=x, labels=y):
        grads = f64.grad_list(a, "grads", f64.layer_names(sizes), f64.layer_shapes(sizes))
        expected = f64.mlp_grads(weights, acts, x, lambda out: dlogits)
        f64.close_grads(grads, expected, f64.layer_names(sizes), "backpropagation through the MLP")


def _cnn_challenge(r: np.random.Generator) -> dict[str, Any]:
    # Always stride 2 and some padding: a convolution that gets either wrong must fail on every seed.
    c = {"in_channels": int(r.integers(1, 3)), "out_channels": int(r.integers(2, 4)), "kernel": 3,
         "stride": 2, "padding": int(r.integers(1, 3)), "size": int(r.integers(7, 11)), "batch": 2, "classes": 3}
    side = (c["size"] + 2 * c["padding"] - c["kernel"]) // c["stride"] + 1
    return c | {"flat": c["out_channels"] * (side // 2) ** 2}


@check(challenge=_cnn_challenge)
def test_cnn_architecture_integration(c: dict[str, Any], a: dict[str, Any]) -> None:
    conv_w, conv_b, fc_w, fc_b = (np.asarray(p, dtype=np.float64) for p in data.cnn_init(c))
    x, y = data.cnn_batch(c)
    conv = f64.conv2d(x.astype(np.float64), conv_w, conv_b, c["stride"], c["padding"])
    got_shape = tuple(a.get("conv_shape") or ())
    expect.that(got_shape == conv.shape,
                f"Conv2d(kernel_size={c['kernel']}, stride={c['stride']}, padding={c['padding']}) on a "
                f"{c['size']}x{c['size']} input gives shape {got_shape}, expected {conv.shape}: each output side is "
                f"(size + 2*padding - kernel) // stride + 1", module=9)
    given = {"x": x, "Conv2d weight": conv_w, "Conv2d bias": conv_b, "stride": c["stride"], "padding": c["padding"]}
    expect.close(expect.array(a, "conv_out", shape=conv.shape), conv, "the Conv2d output", module=9, rtol=1e-4,
                 given=given)

    def head(conv_params: list[np.ndarray]) -> np.ndarray:
        h = f64.conv2d(x.astype(np.float64), conv_params[0], conv_params[1], c["stride"], c["padding"])
        return f64.max_pool2(np.maximum(h, 0.0)).reshape(c["batch"], -1) @ conv_params[2] + conv_params[3]

    params = [conv_w, conv_b, fc_w, fc_b]
    logits = head(params)
    expect.close(expect.array(a, "logits", shape=logits.shape), logits,
                 "the CNN output (Conv2d -> ReLU -> MaxPool2d(2) -> reshape -> Linear)", module=9, rtol=1e-4,
                 given=given | {"Linear weight": fc_w})
    expect.close(expect.number(a, "loss"), f64.cross_entropy(logits, y)[0], "the cross-entropy loss", module=4,
                 rtol=1e-4, given={"logits": logits, "labels": y})
    names = ["Conv2d weight", "Conv2d bias", "Linear weight", "Linear bias"]
    # Its own guess (09) gives way too: a wrong gradient here may be Linear's or ReLU's as well as Conv2d's.
    with tour.blamed(c, a, USES["test_cnn_architecture_integration"], also=(9,)), expect.given(x=x, labels=y):
        grads = f64.grad_list(a, "grads", names, [p.shape for p in params])
        expected = f64.numeric_grads(lambda p: f64.cross_entropy(head(p), y)[0], params)
        f64.close_grads(grads, expected, names, "backpropagation through the CNN", module=9)


def _transformer_challenge(r: np.random.Generator) -> dict[str, Any]:
    heads = int(r.choice([2, 4]))
    seq = int(r.integers(4, 7))
    return {"vocab": int(r.integers(8, 13)), "heads": heads, "embed_dim": heads * int(r.integers(2, 5)),
            "seq": seq, "batch": 2, "cut": int(r.integers(1, seq))}


@check(challenge=_transformer_challenge)
def test_transformer_architecture_integration(c: dict[str, Any], a: dict[str, Any]) -> None:
    batch, seq, d, vocab, cut = c["batch"], c["seq"], c["embed_dim"], c["vocab"], c["cut"]
    expect.that(a.get("attention_parameters") == 8, f"MultiHeadAttention.parameters() returned "
                f"{a.get('attention_parameters')} tensors; expected 8 (weight and bias of q_proj, k_proj, v_proj, "
                f"out_proj)", module=12)
    params = [np.asarray(p, dtype=np.float64) for p in data.attention_init(c)]
    tokens, targets, _ = data.lm_batch(c)
    table = expect.array(a, "position_table", shape=(1, seq, d), module=11,
                         what="PositionalEncoding applied to zeros (the learned position table)")

    def logits_of(p: list[np.ndarray]) -> np.ndarray:
        x = p[0][tokens] + table
        return f64.multi_head_attention(x, f64.pairs(p[1:9]), c["heads"]) @ p[9] + p[10]

    logits = logits_of(params)
    got = expect.array(a, "logits", shape=(batch, seq, vocab))
    altered = expect.array(a, "altered_logits", shape=(batch, seq, vocab))
    expect.that(np.allclose(got[:, :cut], altered[:, :cut], atol=1e-5),
                f"changing only the tokens from position {cut} on changed the outputs at earlier positions: the "
                f"causal mask must block attention to later positions (mask == 0 means blocked)", module=12,
                example=expect.example(got[:, :cut], altered[:, :cut], {"tokens": tokens, "positions changed": f"{cut} "
                                       f"and later"}, expect.worst(altered[:, :cut], got[:, :cut])))
    given = {"tokens": tokens, "position table": table, "Embedding weight": params[0], "num_heads": c["heads"]}
    expect.close(got, logits, "Embedding + PositionalEncoding -> MultiHeadAttention (causal mask) -> Linear",
                 module=12, rtol=1e-3, atol=1e-4, given=given)
    loss, _ = f64.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
    expect.close(expect.number(a, "loss"), loss, "the cross-entropy over all positions", module=4, rtol=1e-4,
                 given={"logits": logits, "targets": targets})
    names = ["Embedding weight"] + [f"{proj} {kind}" for proj in data.ATTENTION_PROJECTIONS
                                    for kind in ("weight", "bias")] + ["output Linear weight", "output Linear bias"]
    with tour.blamed(c, a, USES["test_transformer_architecture_integration"], also=(12,)), \
            expect.given(tokens=tokens, targets=targets):
        grads = f64.grad_list(a, "grads", names, [p.shape for p in params])
        for grad, name in zip(grads, names, strict=True):
            # k_proj's bias shifts every score of a query equally, so softmax makes its gradient exactly 0.
            expect.that(name == "k_proj bias" or np.abs(grad).max() > 0,
                        f"{name} got an all-zero gradient: it is not connected to the loss", module=12)
        f64.spot_check_grads(grads, params, names, lambda p: f64.cross_entropy(
            logits_of(p).reshape(-1, vocab), targets.reshape(-1))[0], c["seed"], np.unique(tokens),
            "backpropagation through attention", module=12)
    block = expect.array(a, "block_out", shape=(batch, seq, d), module=13, what="the TransformerBlock output")
    block_altered = expect.array(a, "block_altered", shape=(batch, seq, d), module=13,
                                 what="the TransformerBlock output for altered inputs")
    expect.that(np.allclose(block[:, :cut], block_altered[:, :cut], atol=1e-5) and
                not np.allclose(block[:, cut:], block_altered[:, cut:], atol=1e-5),
                f"TransformerBlock with a causal mask: changing inputs from position {cut} on must change the "
                f"outputs there and nowhere earlier", module=13)


# ------------------------------------------------------------------------------------------- P3
def _xor_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"hidden": 8, "steps": int(r.integers(350, 451)), "sgd_lr": 0.5, "adam_lr": 0.05}


@check(challenge=_xor_challenge)
def test_xor_convergence(c: dict[str, Any], a: dict[str, Any]) -> None:
    with tour.blamed(c, a, USES["test_xor_convergence"]):
        _xor_runs(c, a)


def _xor_runs(c: dict[str, Any], a: dict[str, Any]) -> None:
    sizes = [2, c["hidden"], 1]
    for name, stream, label in (("sgd", data.WEIGHTS, "SGD"), ("adam", data.EXTRA, "Adam")):
        run = a.get(name)
        expect.that(isinstance(run, dict), f"no result for the {label} run")
        f64.falling(run.get("losses"), f"XOR ({label})", factor=0.5)
        if name == "sgd":
            steps.early_sgd_steps(run, f64.as64(probes.xor_init(c, stream)), ["relu", "sigmoid"], data.XOR_X,
                                  data.XOR_Y, c["sgd_lr"], 0.0, "XOR")
        final = f64.returned_weights(run, "weights", sizes, f"the XOR weights trained with {label}")
        out = f64.mlp_output(final, ["relu", "sigmoid"], data.XOR_X).reshape(-1)
        wrong = [tuple(int(v) for v in data.XOR_X[i]) for i in np.flatnonzero((out > 0.5) != data.XOR_Y)]
        expect.that(not wrong, f"after {c['steps']} full-batch {label} steps a 2-{c['hidden']}-1 MLP still gets XOR "
                    f"wrong at {wrong} (outputs {np.round(out, 3).tolist()}); the course's own solution learns it",
                    module=6)
        start = f64.as64(probes.xor_init(c, stream))
        before = f64.binary_cross_entropy(f64.mlp_output(start, ["relu", "sigmoid"], data.XOR_X), data.XOR_Y)
        after = f64.binary_cross_entropy(out, data.XOR_Y)
        expect.that(after < min(0.2, 0.5 * before), f"the XOR loss with {label} only fell from {before:.3f} to "
                    f"{after:.3f}", module=6)


def _binary_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"n_train": int(r.integers(200, 301)), "hidden": int(r.integers(16, 25)), "lr": float(r.uniform(0.5, 1.0)),
            "momentum": 0.9, "steps": int(r.integers(275, 326)), "scale": float(r.uniform(0.8, 1.5)),
            "offset": [float(v) for v in r.uniform(-1, 1, 2)], "noise": 0.05}


@check(challenge=_binary_challenge)
def test_binary_classification_convergence(c: dict[str, Any], a: dict[str, Any]) -> None:
    with tour.blamed(c, a, USES["test_binary_classification_convergence"]):
        _binary_run(c, a)


def _binary_run(c: dict[str, Any], a: dict[str, Any]) -> None:
    sizes, acts = [2, c["hidden"], 1], ["sigmoid", "sigmoid"]
    f64.falling(a.get("losses"), "training")
    train_x, train_y = data.circle(c, data.TRAIN, c["n_train"])
    steps.early_sgd_steps(a, f64.as64(data.binary_init(c)), acts, train_x, train_y, c["lr"], c["momentum"],
                          "the circle data")
    final = f64.returned_weights(a, "weights", sizes, "the trained weights")
    x, y = data.circle(c, data.HELD_OUT, 1000)
    out = f64.mlp_output(final, acts, x)
    accuracy = f64.accuracy(out, y)
    expect.that(accuracy >= 0.8, f"the trained classifier gets {accuracy:.1%} of held-out points right (chance is "
                f"50%, at least 80% expected for this circular boundary with 5% label noise)")
    before = f64.binary_cross_entropy(f64.mlp_output(f64.as64(data.binary_init(c)), acts, x), y)
    after = f64.binary_cross_entropy(out, y)
    expect.that(after < 0.85 * before, f"held-out binary cross-entropy only fell from {before:.3f} to {after:.3f}")


# ------------------------------------------------------------------------------------------- P4
def _inference_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"features": int(r.integers(4, 9)), "hidden": int(r.integers(16, 33)), "classes": int(r.integers(3, 6)),
            "batch": int(r.integers(5, 9)), "p": float(r.uniform(0.3, 0.6)),
            "peak_logit": float(r.uniform(150, 300))}


@check(challenge=_inference_challenge)
def test_inference_pipeline(c: dict[str, Any], a: dict[str, Any]) -> None:
    x = data.inference_inputs(c)
    expected = f64.mlp_output(f64.as64(data.confident_init(c)), ["relu", "softmax"], x)
    shape = expected.shape
    raw = a.get("batch")
    given = {"x": x, "model": f"{f64.mlp_text([c['features'], c['hidden'], c['classes']], ['ReLU'])} -> Softmax"}
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "f" and not np.all(np.isfinite(raw)):
        focus = tuple(int(i) for i in np.argwhere(~np.isfinite(raw))[0]) if raw.shape == shape else None
        raise CheckFailed("Softmax returns NaN or infinity for logits of a few hundred: subtract the row maximum "
                          "before exp (softmax is unchanged by the shift, and exp can no longer overflow)", 2,
                          example=expect.example(expected, raw, given, focus))
    batch = expect.array(a, "batch", shape=shape, what="the batch predictions")
    expect.close(batch, expected, "the batch predictions in inference mode (Linear -> ReLU -> Dropout(training="
                 "False) -> Linear -> Softmax) against a float64 recomputation: Dropout must be the identity at "
                 "inference", module=3, rtol=1e-4, atol=1e-4, given=given)
    again = expect.array(a, "again", shape=shape, what="the repeated batch predictions")
    expect.that(np.array_equal(again, batch), "two inference passes over the same batch disagree: with "
                "training=False, Dropout must not drop anything", module=3)
    single = expect.array(a, "one_by_one", shape=shape, what="the predictions made one sample at a time")
    expect.close(single, batch, "predictions made one sample at a time against the same samples in one batch",
                 rtol=1e-4, atol=1e-4, given={"x, one row at a time": x})
    dropped = expect.array(a, "dropout_train", shape=(8, c["hidden"]), module=3, what="Dropout(training=True)")
    kept = expect.array(a, "dropout_eval", shape=(8, c["hidden"]), module=3, what="Dropout(training=False)")
    expect.that(np.array_equal(kept, np.ones_like(kept)), "Dropout(training=False) changed its input", module=3)
    expect.that(0 < np.count_nonzero(dropped == 0) < dropped.size,
                f"Dropout(p={c['p']:.2f}, training=True) zeroed {np.count_nonzero(dropped == 0)} of {dropped.size} "
                f"entries: in training it must drop some, not all", module=3)


# ------------------------------------------------------------------------------------------- P5
@check(challenge=deploy.quantization_challenge)
def test_quantization_pipeline(c: dict[str, Any], a: dict[str, Any]) -> Verdict | None:
    return deploy.quantization(c, a)


@check(challenge=deploy.pruning_challenge)
def test_pruning_pipeline(c: dict[str, Any], a: dict[str, Any]) -> Verdict | None:
    return deploy.pruning(c, a, quantized=False)


@check(challenge=deploy.pruning_challenge)
def test_combined_optimization_deployment(c: dict[str, Any], a: dict[str, Any]) -> Verdict | None:
    return deploy.pruning(c, a, quantized=True)


# ------------------------------------------------------------------------------------------- P6
def _deep_challenge(r: np.random.Generator) -> dict[str, Any]:
    depth, width = int(r.integers(6, 9)), int(r.integers(6, 11))
    activations = ["relu"] * (depth - 1)
    activations[int(r.integers(1, depth - 2))] = "sigmoid"
    return {"sizes": [int(r.integers(4, 7))] + [width] * (depth - 1) + [int(r.integers(1, 4))],
            "activations": activations, "batch": int(r.integers(6, 11))}


@check(challenge=_deep_challenge)
def test_deep_network_gradient_flow(c: dict[str, Any], a: dict[str, Any]) -> None:
    sizes, acts = c["sizes"], c["activations"]
    weights = f64.as64(data.deep_init(c))
    x, target = data.regression_batch(c)
    out = f64.mlp_output(weights, acts, x)
    expect.close(expect.number(a, "loss"), float(((out - target) ** 2).mean()), "the MSE loss of the deep network",
                 module=4, rtol=1e-4, given={"network output": out, "target": target})
    names = f64.layer_names(sizes)
    kinds = USES["test_deep_network_gradient_flow"]
    model = f64.mlp_text(sizes, [{"relu": "ReLU", "sigmoid": "Sigmoid"}[name] for name in acts])
    with tour.blamed(c, a, kinds), expect.given(model=model, x=x, target=target):
        grads = f64.grad_list(a, "grads", names, f64.layer_shapes(sizes))
        expected = f64.mlp_grads(weights, acts, x, lambda o: 2.0 * (o - target) / o.size)
        for grad, name in zip(grads[::2], names[::2], strict=True):
            expect.that(np.abs(grad).max() > 0, f"the {name} of a {len(sizes) - 1}-layer network got an all-zero "
                        f"gradient: the gradient does not flow back through every layer", module=5)
        f64.close_grads(grads, expected, names, f"backpropagation through {len(sizes) - 1} layers")
    # Then every layer type the course teaches a backward for, each alone (a kind whose module the package
    # lacks is left to that module's tests).
    toured = a.get("tour")
    expect.that(isinstance(toured, dict) and set(kinds) <= set(toured), "the tour of layer types is incomplete")
    found = tour.faults(c, a, kinds)
    if found:
        raise tour.fail(found[0])


def _accumulation_challenge(r: np.random.Generator) -> dict[str, Any]:
    return {"sizes": [int(r.integers(3, 7)), int(r.integers(4, 9)), int(r.integers(2, 5))],
            "micro": int(r.integers(3, 6)), "parts": int(r.integers(2, 5))}


@check(challenge=_accumulation_challenge)
def test_gradient_accumulation_correctness(c: dict[str, Any], a: dict[str, Any]) -> None:
    sizes, micro, parts = c["sizes"], c["micro"], c["parts"]
    weights = f64.as64(data.mlp_init(c, sizes))
    x, y = data.classification_batch(c, micro * parts, sizes[0], sizes[-1])
    names, shapes = f64.layer_names(sizes), f64.layer_shapes(sizes)

    def grads_of(rows: slice) -> list[np.ndarray]:
        dlogits = f64.cross_entropy(f64.mlp_output(weights, ["relu"], x[rows]), y[rows])[1]
        return f64.mlp_grads(weights, ["relu"], x[rows], lambda out: dlogits)

    pieces = [grads_of(slice(i * micro, (i + 1) * micro)) for i in range(parts)]
    # zero_grad first: without it every later comparison fails too, for a reason that is not theirs.
    reset = a.get("after_reset")
    expect.that(isinstance(reset, list), "after optimizer.zero_grad() the gradients are still set: zero_grad must "
                "reset every parameter's grad (to None or zeros)", module=6)
    for i, g in enumerate(reset):
        if g is not None and np.any(np.asarray(g, dtype=np.float64)):
            raise CheckFailed("after optimizer.zero_grad() the gradients are still set: zero_grad must reset every "
                              "parameter's grad (to None or zeros)", 6, example=expect.example(
                                  np.zeros_like(np.asarray(g, dtype=np.float64)), g,
                                  {"parameter": names[i] if i < len(names) else f"#{i}"}))
    with tour.blamed(c, a, USES["test_gradient_accumulation_correctness"]), \
            expect.given(model=f64.mlp_text(sizes, ["ReLU"]), x=x, labels=y, micro_batch=micro):
        f64.close_grads(f64.grad_list(a, "full", names, shapes), grads_of(slice(None)), names,
                        f"one backward() over the full batch of {micro * parts}")
        f64.close_grads(f64.grad_list(a, "accumulated", names, shapes),
                        [sum(g) for g in zip(*pieces, strict=True)], names,
                        f"{parts} backward() calls on micro-batches of {micro} without zero_grad() between "
                        f"(gradients must add up: {parts} x the full-batch mean gradient)")
        f64.close_grads(f64.grad_list(a, "first_micro", names, shapes), pieces[0], names,
                        "one backward() right after zero_grad() (only that micro-batch may count)", module=6)


# ------------------------------------------------------------------------------------------- P7
@check(challenge=deploy.memory_challenge, measure="memory")
def test_memory_efficiency(c: dict[str, Any], a: dict[str, Any]) -> Verdict | None:
    return deploy.memory(c, a)


@check(challenge=deploy.performance_challenge, measure="time")
def test_training_performance(c: dict[str, Any], a: dict[str, Any]) -> Verdict | None:
    return deploy.performance(c, a)
