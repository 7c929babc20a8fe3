"""Module 07 (training) checks: every Trainer run replayed in float64 from the challenge's data and weights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..registry import check
from ..verdict import CheckFailed
from . import expect
from ._capstone_tour import blames_layers

ZERO_GRAD_HINT = ("gradients of earlier batches leaked into later steps: the Trainer must call optimizer.zero_grad() "
                  "after each step, and zero_grad() must clear every parameter's grad")


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _numbers(r: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> list:
    return np.round(r.standard_normal(shape) * scale, 3).tolist()


def _regression(r: np.random.Generator, batches: int) -> dict[str, Any]:
    """A small Linear regression problem: data, targets and starting weights."""
    n, d, o = int(r.integers(2, 5)), int(r.integers(2, 5)), int(r.integers(1, 3))
    return {"batch_size": n, "x": _numbers(r, (batches * n, d)), "y": _numbers(r, (batches * n, o), 2.0),
            "weight": _numbers(r, (d, o), 0.5), "bias": _numbers(r, (o,), 0.5),
            "lr": float(np.round(r.uniform(0.02, 0.2), 3))}


def _replay(challenge: dict[str, Any], accumulate: int = 1, summed: bool = False, clear: bool = True,
            clip: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Linear + MSE trained by SGD over the challenge's batches: final weight, bias and mean batch loss.

    `accumulate` batches share one step; their gradients are averaged (loss / k, the reference) or summed
    (the course's own Trainer); `clear=False` replays an optimizer whose gradients are never cleared.
    """
    w, b = _f32(challenge["weight"]), _f32(challenge["bias"])
    x, y, n, lr = _f32(challenge["x"]), _f32(challenge["y"]), challenge["batch_size"], challenge["lr"]
    gw, gb = np.zeros_like(w), np.zeros_like(b)
    losses = []
    batches = [(x[i:i + n], y[i:i + n]) for i in range(0, len(x), n)]
    for index, (xb, yb) in enumerate(batches, start=1):
        diff = xb @ w + b - yb
        losses.append(float((diff * diff).mean()))
        upstream = 2.0 * diff / diff.size / (1 if summed else accumulate)
        gw, gb = gw + xb.T @ upstream, gb + upstream.sum(axis=0)
        if index % accumulate and index != len(batches):
            continue
        step_w, step_b = gw, gb
        if clip is not None:
            norm = math.sqrt(float((gw * gw).sum() + (gb * gb).sum()))
            if norm > clip:
                step_w, step_b = gw * (clip / norm), gb * (clip / norm)
        w, b = w - lr * step_w, b - lr * step_b
        # Clipping rescales the stored gradients themselves, so uncleared ones carry the clipped values.
        gw, gb = (np.zeros_like(w), np.zeros_like(b)) if clear else (step_w, step_b)
    return w, b, float(np.mean(losses))


def _weights(artefacts: dict[str, Any], challenge: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    shape = np.asarray(challenge["weight"]).shape
    return (expect.array(artefacts, "weight", shape=shape, what="the Linear layer's weight after training"),
            expect.array(artefacts, "bias", shape=(shape[1],), what="the Linear layer's bias after training"))


def _same(got: tuple[np.ndarray, np.ndarray], expected: tuple[np.ndarray, ...], challenge: dict[str, Any]) -> bool:
    w0, b0 = _f32(challenge["weight"]), _f32(challenge["bias"])
    return bool(np.allclose(got[0] - w0, expected[0] - w0, rtol=1e-3, atol=2e-5)
                and np.allclose(got[1] - b0, expected[1] - b0, rtol=1e-3, atol=2e-5))


def _inputs(challenge: dict[str, Any]) -> dict[str, Any]:
    """What a Trainer run of these checks starts from, for a failure's example."""
    extra = {k: challenge[k] for k in ("accumulation_steps", "max_norm") if k in challenge}
    return {"x": _f32(challenge["x"]), "y": _f32(challenge["y"]), "batch_size": challenge["batch_size"],
            "lr": challenge["lr"], **extra, "W at start": _f32(challenge["weight"]),
            "b at start": _f32(challenge["bias"])}


def _change_example(got: tuple[np.ndarray, np.ndarray], expected: tuple[np.ndarray, ...],
                    challenge: dict[str, Any]) -> dict[str, Any]:
    """The example of a wrong training run: how the weight should have moved and how it moved."""
    w0 = _f32(challenge["weight"])
    return expect.example(expected[0] - w0, got[0] - w0, _inputs(challenge))


def _require(got: tuple[np.ndarray, np.ndarray], expected: tuple[np.ndarray, ...], challenge: dict[str, Any],
             what: str) -> None:
    w0, b0 = _f32(challenge["weight"]), _f32(challenge["bias"])
    if np.array_equal(got[0], w0) and np.array_equal(got[1], b0):
        raise CheckFailed(f"{what} left the weights exactly as they started: no gradient reached the parameters (see "
                          f"Linear's forward and the loss's backward) or the optimizer never stepped",
                          example=_change_example(got, expected, challenge))
    given = _inputs(challenge)
    expect.close(got[0] - w0, expected[0] - w0, f"the change of the weight after {what}", rtol=1e-3, atol=2e-5,
                 given=given)
    expect.close(got[1] - b0, expected[1] - b0, f"the change of the bias after {what}", rtol=1e-3, atol=2e-5,
                 given=given)


def _leaks_gradients(got: tuple[np.ndarray, np.ndarray], expected: tuple[np.ndarray, ...],
                     leaky: list[tuple[np.ndarray, ...]], challenge: dict[str, Any], what: str) -> None:
    """Fail with ZERO_GRAD_HINT when the run matches one whose gradients were never cleared."""
    if any(_same(got, run, challenge) for run in leaky):
        raise CheckFailed(f"after {what}, {ZERO_GRAD_HINT}", example=_change_example(got, expected, challenge))


def _mean_loss(artefacts: dict[str, Any], expected: float, what: str, challenge: dict[str, Any]) -> None:
    got = expect.number(artefacts, "loss", what=f"the value train_epoch returned for {what}")
    expect.close(np.asarray(got), np.asarray(expected), f"the value train_epoch returned for {what} (the mean of "
                 f"the per-batch losses, each computed before its update)", rtol=1e-4, atol=1e-6,
                 given=_inputs(challenge))


@check(module=7, challenge=lambda r: _regression(r, batches=int(r.integers(3, 5))))
@blames_layers(also=(7,))
def test_train_epoch_sgd_updates(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    got = _weights(artefacts, challenge)
    expected = _replay(challenge)
    what = f"one train_epoch of SGD(lr={challenge['lr']}) over {len(challenge['x']) // challenge['batch_size']} batches"
    if not _same(got, expected, challenge):
        _leaks_gradients(got, expected, [_replay(challenge, clear=False)], challenge, what)
        _require(got, expected, challenge, what + " (one step per batch)")
    _mean_loss(artefacts, expected[2], what, challenge)


def _mlp_challenge(r: np.random.Generator) -> dict[str, Any]:
    for _ in range(500):
        n, d, hidden = 8, int(r.integers(2, 5)), int(r.integers(6, 11))
        x = r.standard_normal((4 * n, d))
        y = x @ r.uniform(-1.0, 1.0, (d, 1)) + r.uniform(-0.5, 0.5)  # a linear target: learnable in a few epochs
        challenge = {"batch_size": n, "x": np.round(x, 3).tolist(), "y": np.round(y, 3).tolist(),
                     "w1": _numbers(r, (d, hidden), 1 / math.sqrt(d)), "b1": _numbers(r, (hidden,), 0.1),
                     "w2": _numbers(r, (hidden, 1), 1 / math.sqrt(hidden)), "b2": [0.0],
                     "lr": 0.05, "momentum": 0.5, "epochs": 8}
        # Gradients that are never cleared act like a heavier momentum, which on rare draws (seed 770 of
        # 0-999) still cuts the loss by 30%: draw until such a run stays well short of that (or diverges).
        leaky = _mlp_replay(challenge, clear=False)
        if not np.all(np.isfinite(leaky)) or leaky[-1] >= 0.8 * leaky[0]:
            break
    return challenge


def _mlp_replay(challenge: dict[str, Any], clear: bool = True) -> np.ndarray:
    """Each epoch's mean batch loss of test_loss_falls_over_epochs in float64: Linear-ReLU-Linear, MSE, SGD with
    momentum (v = momentum * v + g; p -= lr * v); `clear=False` never zeroes the gradients."""
    params = [_f32(challenge[k]) for k in ("w1", "b1", "w2", "b2")]
    x, y, n = _f32(challenge["x"]), _f32(challenge["y"]), challenge["batch_size"]
    velocity = [np.zeros_like(p) for p in params]
    grads = [np.zeros_like(p) for p in params]
    losses = []
    with np.errstate(all="ignore"):  # a diverging leaky run overflows: its losses become inf or NaN
        for _ in range(challenge["epochs"]):
            batch_losses = []
            for i in range(0, len(x), n):
                w1, b1, w2, b2 = params
                hidden = x[i:i + n] @ w1 + b1
                active = np.maximum(hidden, 0.0)
                diff = active @ w2 + b2 - y[i:i + n]
                batch_losses.append(float((diff * diff).mean()))
                upstream = 2.0 * diff / diff.size
                back = (upstream @ w2.T) * (hidden > 0)
                new = [x[i:i + n].T @ back, back.sum(axis=0), active.T @ upstream, upstream.sum(axis=0)]
                grads = new if clear else [g + d for g, d in zip(grads, new, strict=True)]
                velocity = [challenge["momentum"] * v + g for v, g in zip(velocity, grads, strict=True)]
                params = [p - challenge["lr"] * v for p, v in zip(params, velocity, strict=True)]
            losses.append(float(np.mean(batch_losses)))
    return np.asarray(losses)


@check(module=7, challenge=_mlp_challenge)
@blames_layers(also=(7,))
def test_loss_falls_over_epochs(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    losses = artefacts["losses"]
    expect.that(isinstance(losses, list) and len(losses) == challenge["epochs"],
                f"expected one loss per train_epoch call ({challenge['epochs']})")
    for i, v in enumerate(losses):
        expect.that(not (isinstance(v, float) and not math.isfinite(v)),
                    f"training a Linear-ReLU-Linear regressor with SGD diverged: epoch {i + 1}'s mean loss is {v}")
    values = np.asarray([expect.number({"v": v}, "v", what=f"the mean loss of epoch {i + 1}")
                         for i, v in enumerate(losses)])
    # Measured on the reference over 1,000 challenges: the last epoch's loss is at most 0.42 of the first.
    expect.that(values[-1] < 0.7 * values[0],
                f"training a Linear-ReLU-Linear regressor with SGD for {len(values)} epochs did not lower the loss "
                f"enough ({values[0]:.4g} -> {values[-1]:.4g}); a correct Trainer cuts it by well over 30%",
                losses=[round(float(v), 5) for v in values])


def _accumulation_challenge(r: np.random.Generator) -> dict[str, Any]:
    k = int(r.integers(2, 4))
    return {"accumulation_steps": k, **_regression(r, batches=2 * k)}


@check(module=7, challenge=_accumulation_challenge)
@blames_layers(also=(7,))
def test_gradient_accumulation_equals_big_batch(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    k = challenge["accumulation_steps"]
    got = _weights(artefacts, challenge)
    what = f"train_epoch(accumulation_steps={k}) over {2 * k} equal batches"
    # Averaging the k gradients (loss / k) equals one batch k times larger; summing them (the course's own
    # Trainer) equals that batch at k times the learning rate. Both are accepted.
    for summed in (False, True):
        expected = _replay(challenge, accumulate=k, summed=summed)
        if _same(got, expected, challenge):
            _mean_loss(artefacts, expected[2], what, challenge)
            return
    expected = _replay(challenge, accumulate=k)
    if _same(got, _replay(challenge), challenge):
        raise CheckFailed(f"{what} stepped after every batch: accumulate the gradients of {k} batches, then step "
                          f"once", example=_change_example(got, expected, challenge))
    _leaks_gradients(got, expected, [_replay(challenge, accumulate=k, summed=s, clear=False) for s in (False, True)],
                     challenge, what)
    _require(got, expected, challenge,
             what + f" (two steps, each on the mean gradient of {k} batches, like one batch {k} times larger)")


def _tells_apart(challenge: dict[str, Any], expected: tuple[np.ndarray, ...], *wrong: tuple[np.ndarray, ...]) -> bool:
    """Every wrong replay is off the expected one by 5x the tolerance of `_same` (float32 rounding stays far
    inside it), so a package that computes a wrong one fails whatever its rounding."""
    w0, b0 = _f32(challenge["weight"]), _f32(challenge["bias"])
    return not any(np.allclose(other[0] - w0, expected[0] - w0, rtol=5e-3, atol=1e-4)
                   and np.allclose(other[1] - b0, expected[1] - b0, rtol=5e-3, atol=1e-4) for other in wrong)


def _clipping_challenge(r: np.random.Generator) -> dict[str, Any]:
    for _ in range(500):
        challenge = {"max_norm": float(np.round(r.uniform(0.05, 0.3), 3)), **_regression(r, batches=3)}
        clip = challenge["max_norm"]
        # With a clip far below the gradients' norm and a small lr, the clipped leftovers of uncleared gradients
        # hardly turn the next step (seed 3: 2e-5 off, inside the tolerance), and a Trainer whose zero_grad clears
        # nothing passed. Draw until neither that nor an unclipped run could pass for the clipped one.
        if _tells_apart(challenge, _replay(challenge, clip=clip), _replay(challenge),
                        _replay(challenge, clip=clip, clear=False)):
            break
    return challenge


@check(module=7, challenge=_clipping_challenge)
@blames_layers(also=(7,))
def test_trainer_clips_gradients(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    got = _weights(artefacts, challenge)
    expected = _replay(challenge, clip=challenge["max_norm"])
    what = f"train_epoch with Trainer(..., grad_clip_norm={challenge['max_norm']})"
    if _same(got, expected, challenge):
        return
    if _same(got, _replay(challenge), challenge):
        raise CheckFailed(f"{what} did not clip: call clip_grad_norm(parameters, grad_clip_norm) between backward() "
                          f"and step()", example=_change_example(got, expected, challenge))
    _leaks_gradients(got, expected, [_replay(challenge, clip=challenge["max_norm"], clear=False)], challenge, what)
    _require(got, expected, challenge, what + " (each step's gradients scaled to a global norm of at most "
             "grad_clip_norm)")


def _evaluate_challenge(r: np.random.Generator) -> dict[str, Any]:
    n, batches, d, classes = int(r.integers(2, 5)), int(r.integers(2, 4)), int(r.integers(2, 5)), int(r.integers(2, 5))
    return {"batch_size": n, "x": _numbers(r, (n * batches, d)),
            "y": [int(v) for v in r.integers(0, classes, n * batches)],
            "weight": _numbers(r, (d, classes)), "bias": _numbers(r, (classes,))}


@check(module=7, challenge=_evaluate_challenge)
def test_evaluate_loss_and_accuracy(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    w, b, x = _f32(challenge["weight"]), _f32(challenge["bias"]), _f32(challenge["x"])
    labels = np.asarray(challenge["y"])
    logits = x @ w + b
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(len(labels)), labels].mean())
    got_w, got_b = _weights(artefacts, challenge)
    expect.that(np.array_equal(got_w, w) and np.array_equal(got_b, b),
                "evaluate() changed the model's weights: it must only run forward passes")
    got = expect.number(artefacts, "loss", what="the loss evaluate() returned")
    given = {"x": x, "labels": challenge["y"], "W": w, "b": b}
    expect.close(np.asarray(got), np.asarray(loss), "the loss evaluate() returned (mean cross-entropy over all "
                 "samples)", rtol=1e-4, atol=1e-6, given=given)
    accuracy = expect.number(artefacts, "accuracy", what="the accuracy evaluate() returned")
    ordered = np.sort(logits, axis=1)
    # Rows whose two best logits nearly tie may go either way in float32; they may count either way.
    ties = int((ordered[:, -1] - ordered[:, -2] < 1e-4).sum())
    correct = int((logits.argmax(axis=1) == labels).sum())
    if abs(accuracy * len(labels) - correct) > ties + 1e-6:
        raise CheckFailed(f"evaluate() reported accuracy {accuracy:.4g}, expected {correct / len(labels):.4g} "
                          f"({correct} of {len(labels)} argmax predictions equal the class labels), as a fraction "
                          f"between 0 and 1", example=expect.example(correct / len(labels), accuracy, given))


def _clip_challenge(r: np.random.Generator) -> dict[str, Any]:
    shapes = [(int(r.integers(2, 4)), int(r.integers(2, 4))), (int(r.integers(2, 5)),)]
    max_norm = float(np.round(r.uniform(0.5, 2.0), 3))
    large = [r.uniform(1.0, 3.0, s) * r.choice([-1.0, 1.0], s) for s in shapes]
    small = [r.standard_normal(s) for s in shapes]
    norm = math.sqrt(sum(float((g * g).sum()) for g in small))
    small = [g * (max_norm * r.uniform(0.2, 0.8) / norm) for g in small]
    return {"max_norm": max_norm, "params": [_numbers(r, s) for s in shapes],
            "large": [np.round(g, 4).tolist() for g in large], "small": [np.round(g, 4).tolist() for g in small]}


@check(module=7, challenge=_clip_challenge)
def test_clip_grad_norm(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    max_norm = challenge["max_norm"]
    for case in ("large", "small"):
        grads = [_f32(g) for g in challenge[case]]
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
        got = expect.number(artefacts, f"{case}_norm", what="the value clip_grad_norm returned")
        given = {f"grad of p{i}": g for i, g in enumerate(grads)} | {"max_norm": max_norm}
        expect.close(np.asarray(got), np.asarray(norm), f"the value clip_grad_norm returned for gradients of global "
                     f"norm {norm:.4g} (it must return the total norm before clipping)", rtol=1e-5, atol=1e-6,
                     given=given)
        scale = max_norm / norm if norm > max_norm else 1.0
        for i, g in enumerate(grads):
            after = expect.array({"g": artefacts[f"{case}_grads"][i]}, "g", shape=g.shape,
                                 what=f"parameter {i}'s gradient after clip_grad_norm")
            expect.close(after, g * scale,
                         f"parameter {i}'s gradient after clip_grad_norm(max_norm={max_norm}) of gradients with "
                         f"global norm {norm:.4g} (" + (f"all scaled by max_norm / norm = {scale:.4g}"
                                                        if scale < 1 else "left unchanged below max_norm") + ")",
                         rtol=1e-4, atol=1e-6, given=given)


def _schedule_challenge(r: np.random.Generator) -> dict[str, Any]:
    total = int(r.integers(5, 51))
    # Epochs 0 to total_epochs only: the course's TODO gives the formula and never says what happens after
    # total_epochs (its solution clamps to min_lr, a student who follows the TODO does not), so neither is graded.
    return {"max_lr": float(np.round(r.uniform(0.05, 0.5), 4)), "min_lr": float(np.round(r.uniform(1e-4, 0.01), 5)),
            "total_epochs": total, "epochs": [0, int(r.integers(1, total)), total // 2, total - 1, total]}


@check(module=7, challenge=_schedule_challenge)
def test_cosine_schedule(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    high, low, total = challenge["max_lr"], challenge["min_lr"], challenge["total_epochs"]
    expected = [low + (high - low) * 0.5 * (1 + math.cos(math.pi * e / total)) for e in challenge["epochs"]]
    got = artefacts["lrs"]
    expect.that(isinstance(got, list) and len(got) == len(expected), "get_lr returned the wrong number of values")
    for epoch, value, wanted in zip(challenge["epochs"], got, expected, strict=True):
        if not (isinstance(value, float) and math.isclose(value, wanted, rel_tol=1e-6, abs_tol=1e-9)):
            given = {"max_lr": high, "min_lr": low, "total_epochs": total, "epoch": epoch}
            raise CheckFailed(f"CosineSchedule(max_lr={high}, min_lr={low}, total_epochs={total}).get_lr({epoch}) "
                              f"returned {value}, expected {wanted:.6g} = min_lr + (max_lr - min_lr) * (1 + cos(pi * "
                              f"epoch / total_epochs)) / 2", example=expect.example(wanted, value, given))
