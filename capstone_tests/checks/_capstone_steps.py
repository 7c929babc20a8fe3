"""Replays of the first optimizer steps for the capstone checks (P1, P3).

Whether a model ends up converging can hide a wrong gradient, a missing zero_grad or a wrong update rule;
its first steps from a known start cannot. Adam's are compared with the reference's, SGD's with a
float64 replay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..verdict import CheckFailed
from . import _capstone_models as f64
from . import expect


def first_adam_step(start: f64.Pairs, got: f64.Pairs, want: f64.Pairs, names: list[str], lr: float) -> None:
    """Adam's first update is lr * g / (|g| + eps), about lr * sign(g) per entry (bias correction cancels
    the (1 - beta) factors); without bias correction it is ~3x that. Each way of going wrong gets its own
    diagnosis; a quarter of lr covers float32 and where eps goes, not a different update rule."""
    flat = [(g - s, w - s, n)
            for (gw, gb), (ww, wb), (sw, sb), name in zip(got, want, start, names[::2], strict=True)
            for g, w, s, n in ((gw, ww, sw, name), (gb, wb, sb, name.replace("weight", "bias")))]
    for moved, expected_part, name in flat:
        if not np.abs(moved).max() > 0:
            raise CheckFailed(f"the {name} did not change in the first Adam step: it got no gradient, or the optimizer "
                              f"does not update it", 6, example=_step_example(moved, expected_part, name, lr))
    # The parameter the step got most wrong makes the example of the failures over all of them.
    worst = max(flat, key=lambda part: float(np.abs(part[0] - part[1]).max()))
    example = _step_example(*worst, lr)
    moved = np.concatenate([m.reshape(-1) for m, _, _ in flat])
    expected = np.concatenate([e.reshape(-1) for _, e, _ in flat])
    clear = np.abs(expected) > 0.5 * lr
    clear = clear if clear.any() else np.ones_like(clear)
    ratio = float(np.median(np.abs(moved[clear])) / np.median(np.abs(expected[clear])))
    expect.that(0.75 <= ratio <= 1.33, f"the first Adam step (lr={lr:.4g}) moved weights by {ratio:.2f}x the "
                f"reference's step, which is about lr per entry: Adam must divide by the bias corrections "
                f"(1 - beta1^t) and sqrt(1 - beta2^t)", module=6, example=example)
    agree = float(np.mean(np.sign(moved[clear]) == np.sign(expected[clear])))
    expect.that(agree > 0.98, f"the first Adam step moved {1 - agree:.0%} of the weights in the opposite direction "
                f"to the reference's: the gradients of the first batch are wrong (check backward through "
                f"Linear, ReLU and CrossEntropyLoss)", module=5, example=example)
    for moved_part, expected_part, name in flat:
        step_matches(moved_part, expected_part, f"the change of the {name} in the first Adam step",
                     "each entry should move by lr * g / (|g| + eps)", lr)


def _step_example(moved: np.ndarray, expected: np.ndarray, name: str, lr: float) -> dict[str, Any]:
    """How one parameter should have moved in the first Adam step (the reference's move) and how it moved."""
    focus = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(moved - expected))), moved.shape))
    return expect.example(expected, moved, {"optimizer": f"Adam(lr={lr:.4g}), first step", "parameter": name}, focus)


def step_matches(got: np.ndarray, want: np.ndarray, what: str, hint: str, lr: float) -> None:
    """Within a quarter of lr of the reference, entry by entry: float32 and eps placement stay far inside."""
    off = np.abs(got - want)
    worst = float(off.max())
    if worst > 0.25 * lr:
        focus = tuple(int(i) for i in np.unravel_index(int(np.argmax(off)), off.shape))
        raise CheckFailed(f"{what} differs from the reference's by up to {worst:.3g} (lr={lr:.3g}): {hint}", 6,
                          example=expect.example(want, got, {"lr": lr, "optimizer": "Adam"}, focus))


def early_sgd_steps(run: dict[str, Any], start: f64.Pairs, activations: list[str], x: np.ndarray, y: np.ndarray,
                    lr: float, momentum: float, what: str) -> None:
    """The first two full-batch SGD steps, replayed in float64 from the same start: a wrong gradient, a
    missing zero_grad or a wrong update rule shows here, whether or not training converges anyway."""
    sizes = [start[0][0].shape[0]] + [w.shape[1] for w, _ in start]
    names = f64.layer_names(sizes)
    early = run.get("early_weights")
    expect.that(isinstance(early, list) and len(early) == 2, f"the weights after the first two steps on {what} "
                f"were not recorded")
    expected = f64.sgd_bce_steps(start, activations, x, y, lr, momentum, 2)
    before = [p for pair in start for p in pair]
    for step, (got, want) in enumerate(zip(early, expected, strict=True)):
        got_flat = [p for pair in f64.returned_weights({"w": got}, "w", sizes, f"the weights after step {step + 1}")
                    for p in pair]
        for g, w, b, name in zip(got_flat, [p for pair in want for p in pair], before, names, strict=True):
            worst = float(np.abs(g - w).max())
            # float32 leaves the update correct to ~1e-6 of its size; a wrong gradient or rule is far off.
            layers = ", ".join(sorted({"relu": "ReLU", "sigmoid": "Sigmoid"}[a] for a in set(activations)))
            cause = (f"the gradient (backward through Linear, {layers}, BinaryCrossEntropyLoss) or the update "
                     f"p -= lr * grad is wrong", 5) if step == 0 else \
                ("zero_grad() must clear the previous gradient, and momentum follows v = momentum * v + grad", 6)
            if worst > 1e-6 + 1e-3 * float(np.abs(w - b).max()):
                focus = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(g - w))), w.shape))
                given = {"x": x, "y": y, "lr": lr, "momentum": momentum, f"{name} at start": b}
                raise CheckFailed(f"on {what}, the {name} after SGD step {step + 1} (lr={lr:.3g}, momentum="
                                  f"{momentum:g}) is off by up to {worst:.3g} from a float64 replay of the same steps: "
                                  f"{cause[0]}", cause[1], example=expect.example(w, g, given, focus))
