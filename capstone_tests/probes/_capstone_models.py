"""Shared pieces of the capstone probes: data and weights made from the challenge seed, and the MLPs they train.

Everything here is a pure function of the challenge, so the trusted side rebuilds the same data, the
same initial weights and the held-out stream (which no probe reads) from the seed alone. Weights are set
explicitly (`weight.data = ...`) rather than left to the student's initialisation, so a check can
recompute forward and backward passes in float64 for exactly the parameters the probe used.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import float32, rng, values_snapshot

# Random streams of one challenge seed. HELD_OUT is only ever read by checks.
TRAIN, HELD_OUT, WEIGHTS, CENTERS, INPUTS, EXTRA = 1, 2, 3, 4, 5, 6

Weights = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Mlp:
    """An MLP as the course's tools expect it: `stack` is the harness's Stack container (`.layers`, `forward`,
    `parameters()`, built beside the student's objects), which is what goes to the student's pruning,
    quantization and Trainer; `linear_at` says where its Linear layers sit in `stack.layers`.

    `stack.forward` reads `stack.layers` on every call, so layers that quantize_model swaps in place are used.
    """

    stack: Any
    linear_at: tuple[int, ...]

    def forward(self, x: Any) -> Any:
        return self.stack.forward(x)

    def parameters(self) -> Any:
        return self.stack.parameters()


# ------------------------------------------------------------------------------------------ data
def blobs(challenge: dict[str, Any], stream: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`classes` Gaussian clusters in `features` dimensions; centres on orthogonal directions (so every
    pair is equally far apart, `spread * sqrt(2)`) and shared by every stream of the seed."""
    features, classes = challenge["features"], challenge["classes"]
    basis, _ = np.linalg.qr(rng(challenge, CENTERS).standard_normal((features, features)))
    centers = basis[:classes] * challenge["spread"]
    r = rng(challenge, stream)
    labels = r.integers(0, classes, n)
    return float32(centers[labels] + r.standard_normal((n, features))), labels


def circle(challenge: dict[str, Any], stream: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """2-D standard normal points, label 1 inside radius sqrt(2 ln 2) (half the mass), some labels flipped."""
    r = rng(challenge, stream)
    x = r.standard_normal((n, 2)) * challenge["scale"] + np.asarray(challenge["offset"])
    radius = np.sqrt(2 * np.log(2)) * challenge["scale"]
    labels = (np.linalg.norm(x - np.asarray(challenge["offset"]), axis=1) < radius).astype(np.int64)
    flip = r.random(n) < challenge["noise"]
    return float32(x), np.where(flip, 1 - labels, labels)


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0], dtype=np.int64)


# --------------------------------------------------------------------------------------- weights
def mlp_init(challenge: dict[str, Any], sizes: list[int], stream: int = WEIGHTS, gain: float = 2.0,
             bias: float = 0.1) -> Weights:
    """He-style normal weights, small random biases, for layers sizes[0] -> ... -> sizes[-1]."""
    r = rng(challenge, stream)
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        w = r.standard_normal((fan_in, fan_out), dtype=np.float32) * np.float32(np.sqrt(gain / fan_in))
        b = r.uniform(-bias, bias, fan_out).astype(np.float32)
        weights.append((w, b))
    return weights


def binary_init(challenge: dict[str, Any]) -> Weights:
    """2-hidden-1 for Sigmoid -> Sigmoid: wide first-layer weights (sigmoid units need them to carve a
    curved boundary) and a small output layer, so initial outputs stay well inside (0, 1), where float32
    and float64 agree on the slope (a saturated float32 sigmoid is exactly 1.0, with slope 0)."""
    (w1, b1), (w2, b2) = mlp_init(challenge, [2, challenge["hidden"], 1], gain=8.0)
    return [(w1, b1), (w2 * np.float32(0.1), b2)]


def prunable_init(challenge: dict[str, Any], sizes: list[int], small_fraction: float) -> Weights:
    """Weights of which exactly `small_fraction` per layer are tiny (|w| <= 0.002 s) and the rest large
    (0.5 s <= |w| <= 1.5 s), s = 1/sqrt(fan_in): magnitude pruning at that fraction removes exactly the
    tiny ones and barely changes the function. Biases lie between the two (0.005-0.02 s): a pruner may zero them,
    as the course's own does, without costing accuracy, and one that rewrites them shows."""
    r = rng(challenge, WEIGHTS)
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        s = 1.0 / np.sqrt(fan_in)
        count = fan_in * fan_out
        small = np.zeros(count, dtype=bool)
        small[r.permutation(count)[:round(small_fraction * count)]] = True
        large = r.choice([-1.0, 1.0], count) * r.uniform(0.5 * s, 1.5 * s, count)
        w = np.where(small, r.uniform(-0.002 * s, 0.002 * s, count), large).reshape(fan_in, fan_out)
        b = r.choice([-1.0, 1.0], fan_out) * r.uniform(0.005 * s, 0.02 * s, fan_out)
        weights.append((float32(w), float32(b)))
    return weights


def classification_batch(challenge: dict[str, Any], rows: int, features: int, classes: int,
                         stream: int = INPUTS) -> tuple[np.ndarray, np.ndarray]:
    r = rng(challenge, stream)
    return float32(r.standard_normal((rows, features))), r.integers(0, classes, rows)


def regression_batch(challenge: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    r = rng(challenge, INPUTS)
    sizes = challenge["sizes"]
    return float32(r.standard_normal((challenge["batch"], sizes[0]))), \
        float32(r.standard_normal((challenge["batch"], sizes[-1])))


def deep_init(challenge: dict[str, Any]) -> Weights:
    """He weights whose biases are then set so every hidden unit is active on most of the probe's batch
    (a data-dependent start, as in LSUV): with random biases a whole ReLU layer is occasionally dead for
    all samples, and then no gradient can flow at all, however correct the autograd."""
    weights = mlp_init(challenge, challenge["sizes"])
    h = regression_batch(challenge)[0].astype(np.float64)
    for i, (w, _) in enumerate(weights[:-1]):
        z = h @ w
        kind = challenge["activations"][i]
        if kind == "relu":
            # Threshold midway between two samples' values, never at one: no sample sits on ReLU's kink,
            # where float32 rounding alone would decide its derivative.
            ordered = np.sort(z, axis=0)
            k = max(1, len(z) // 4)
            b = -(ordered[k - 1] + ordered[k]) / 2
        else:
            b = -z.mean(axis=0)
        weights[i] = (w, float32(b))
        z = z + float32(b)
        h = np.maximum(z, 0.0) if kind == "relu" else 1.0 / (1.0 + np.exp(-z))
    return weights


def inference_inputs(challenge: dict[str, Any]) -> np.ndarray:
    return float32(rng(challenge, INPUTS).standard_normal((challenge["batch"], challenge["features"])))


def confident_init(c: dict[str, Any]) -> Weights:
    """A confident classifier, as after long training: the output layer is scaled so that the largest logit
    on the probe's batch is `peak_logit` (a few hundred), far past where exp overflows float32 (~88.7)."""
    weights = mlp_init(c, [c["features"], c["hidden"], c["classes"]])
    (w1, b1), (w2, b2) = weights
    hidden = np.maximum(inference_inputs(c).astype(np.float64) @ w1 + b1, 0.0)
    logits = hidden @ w2 + b2
    top = logits.max() if logits.max() > 0 else np.abs(logits).max()
    scale = np.float32(c["peak_logit"] / top)
    return [(w1, b1), (w2 * scale, b2 * scale)]


def cnn_init(c: dict[str, Any]) -> list[np.ndarray]:
    """[conv weight, conv bias, fc weight, fc bias] of the CNN probe."""
    r = rng(c, WEIGHTS)
    fan_in = c["in_channels"] * c["kernel"] ** 2
    shape = (c["out_channels"], c["in_channels"], c["kernel"], c["kernel"])
    return [float32(r.standard_normal(shape) * np.sqrt(2.0 / fan_in)), float32(r.uniform(-0.1, 0.1, shape[0])),
            float32(r.standard_normal((c["flat"], c["classes"])) / np.sqrt(c["flat"])),
            float32(r.uniform(-0.1, 0.1, c["classes"]))]


def cnn_batch(c: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    r = rng(c, INPUTS)
    x = float32(r.standard_normal((c["batch"], c["in_channels"], c["size"], c["size"])))
    return x, r.integers(0, c["classes"], c["batch"])


ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")


def attention_init(c: dict[str, Any]) -> list[np.ndarray]:
    """[embedding, Wq, bq, Wk, bk, Wv, bv, Wo, bo, W_head, b_head] of the transformer probe."""
    r = rng(c, WEIGHTS)
    d, v = c["embed_dim"], c["vocab"]
    found = [float32(r.standard_normal((v, d)) * 0.5)]
    for _ in ATTENTION_PROJECTIONS:
        found += [float32(r.standard_normal((d, d)) / np.sqrt(d)), float32(r.uniform(-0.1, 0.1, d))]
    return [*found, float32(r.standard_normal((d, v)) / np.sqrt(d)), float32(r.uniform(-0.1, 0.1, v))]


def lm_batch(c: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokens, next-token targets, and the tokens with everything from position `cut` on replaced."""
    r = rng(c, INPUTS)
    shape = (c["batch"], c["seq"])
    tokens, targets = r.integers(0, c["vocab"], shape), r.integers(0, c["vocab"], shape)
    altered = tokens.copy()
    tail = altered[:, c["cut"]:]
    altered[:, c["cut"]:] = (tail + r.integers(1, c["vocab"], tail.shape)) % c["vocab"]
    return tokens, targets, altered


# ---------------------------------------------------------------------------------------- models
def linear(tt: Resolver, w: np.ndarray, b: np.ndarray) -> Any:
    layer = tt.Linear(int(w.shape[0]), int(w.shape[1]))
    # Copies: some Tensors keep the array they are given, and pruning writes into .data in place.
    layer.weight.data = float32(w).copy()
    layer.bias.data = float32(b).copy()
    # Linear's parameters are [weight, bias] (the contract); marking them by name sends no question to the
    # student's process, where reading parameters() would wait for its answer.
    layer.weight.requires_grad = True
    layer.bias.requires_grad = True
    return layer


def activation(tt: Resolver, name: str) -> Any:
    return {"relu": tt.ReLU, "sigmoid": tt.Sigmoid, "softmax": tt.Softmax}[name]()


def build_mlp(tt: Resolver, weights: Weights, activations: list[str]) -> Mlp:
    """Linear layers with `activations[i]` after layer i (fewer names than layers: the rest are bare)."""
    layers: list[Any] = []
    linear_at: list[int] = []
    for i, (w, b) in enumerate(weights):
        linear_at.append(len(layers))
        layers.append(linear(tt, w, b))
        if i < len(activations):
            layers.append(activation(tt, activations[i]))
    return Mlp(tt.new("Stack", layers), tuple(linear_at))


def weights_of(model: Mlp) -> list[Any]:
    """[W1, b1, W2, b2, ...] of the Linear layers now in the model, as copies of their current values (for a
    remote model, copied now where they live and read with the artefacts: nothing waits here)."""
    found = []
    for index in model.linear_at:
        layer = model.stack.layers[index]
        found += [values_snapshot(layer.weight), values_snapshot(layer.bias)]
    return found


def scalar(value: Any) -> float:
    """A loss as a float, from its values (`values(loss)`, read already)."""
    return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])


def scalars(read: list[Any]) -> np.ndarray:
    return np.asarray([scalar(v) for v in read])
