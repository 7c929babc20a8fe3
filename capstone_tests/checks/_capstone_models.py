"""Float64 recomputations for the capstone checks: forward and backward passes of the probes' models,
written in plain numpy so a verdict never depends on the student's arithmetic or on the reference's."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..verdict import CheckFailed
from . import expect

Pairs = list[tuple[np.ndarray, np.ndarray]]


def pairs(flat: Sequence[Any]) -> Pairs:
    """[W1, b1, W2, b2, ...] (arrays or artefacts) -> [(W1, b1), ...] in float64."""
    arrays = [np.asarray(a, dtype=np.float64) for a in flat]
    return list(zip(arrays[0::2], arrays[1::2], strict=True))


def as64(weights: Sequence[tuple[np.ndarray, np.ndarray]]) -> Pairs:
    return [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)) for w, b in weights]


# ----------------------------------------------------------------------------- activations, losses
def activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)), without overflow for large |z|
    if name == "softmax":
        return softmax(z)
    raise ValueError(name)


def activate_grad(name: str, z: np.ndarray, out: np.ndarray) -> np.ndarray:
    return (z > 0).astype(np.float64) if name == "relu" else out * (1.0 - out)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer labels and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    rows = np.arange(len(labels))
    grad = np.exp(log_p)
    grad[rows, labels] -= 1.0
    return float(-log_p[rows, labels].mean()), grad / len(labels)


def binary_cross_entropy(p: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(p.reshape(-1), 1e-7, 1 - 1e-7)
    y = labels.reshape(-1)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


# ---------------------------------------------------------------------------------------- MLPs
def mlp_forward(weights: Pairs, activations: Sequence[str], x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(pre-activation, output)] per layer; layers beyond `activations` are bare Linear layers."""
    trace = []
    h = np.asarray(x, dtype=np.float64)
    for i, (w, b) in enumerate(weights):
        z = h @ w + b
        h = activate(activations[i], z) if i < len(activations) else z
        trace.append((z, h))
    return trace


def mlp_output(weights: Pairs, activations: Sequence[str], x: np.ndarray) -> np.ndarray:
    return mlp_forward(weights, activations, x)[-1][1]


def mlp_grads(weights: Pairs, activations: Sequence[str], x: np.ndarray,
              output_grad: Callable[[np.ndarray], np.ndarray]) -> list[np.ndarray]:
    """[dW1, db1, ...] given dLoss/d(output) as a function of the output."""
    trace = mlp_forward(weights, activations, x)
    inputs = [np.asarray(x, dtype=np.float64)] + [h for _, h in trace[:-1]]
    g = output_grad(trace[-1][1])
    grads: list[np.ndarray] = []
    for i in reversed(range(len(weights))):
        z, h = trace[i]
        if i < len(activations):
            g = g * activate_grad(activations[i], z, h)
        grads = [inputs[i].T @ g, g.sum(axis=0), *grads]
        g = g @ weights[i][0].T
    return grads


def sgd_bce_steps(weights: Pairs, activations: Sequence[str], x: np.ndarray, labels: np.ndarray, lr: float,
                  momentum: float, steps: int) -> list[Pairs]:
    """The weights after each of `steps` full-batch SGD steps on the BCE loss (v = momentum * v + g;
    w -= lr * v: PyTorch's rule, and the course's)."""
    weights = [(w.copy(), b.copy()) for w, b in weights]
    y = labels.reshape(-1, 1).astype(np.float64)
    velocity = [np.zeros_like(p) for pair in weights for p in pair]
    trajectory = []
    for _ in range(steps):
        grads = mlp_grads(weights, activations, x, lambda p: (p - y) / (p * (1 - p)) / len(y))
        for param, v, g in zip([p for pair in weights for p in pair], velocity, grads, strict=True):
            v *= momentum
            v += g
            param -= lr * v
        trajectory.append([(w.copy(), b.copy()) for w, b in weights])
    return trajectory


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    predicted = scores.argmax(axis=-1) if scores.shape[-1] > 1 else (scores.reshape(-1) > 0.5).astype(int)
    return float((predicted == labels.reshape(-1)).mean())


# ---------------------------------------------------------------------------------- CNN, attention
def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    n, _, h, width = x.shape
    out_c, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - k) // stride + 1, (width + 2 * padding - k) // stride + 1
    out = np.empty((n, out_c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", window, w) + b
    return out


def max_pool2(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def multi_head_attention(x: np.ndarray, projections: Pairs, heads: int, causal: bool = True) -> np.ndarray:
    (wq, bq), (wk, bk), (wv, bv), (wo, bo) = projections
    batch, seq, dim = x.shape
    head_dim = dim // heads

    def split(t: np.ndarray) -> np.ndarray:
        return t.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)

    q, k, v = split(x @ wq + bq), split(x @ wk + bk), split(x @ wv + bv)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head_dim)
    if causal:
        scores = np.where(np.tril(np.ones((seq, seq))) == 0, -np.inf, scores)
    out = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, seq, dim)
    return out @ wo + bo


def numeric_grads(loss: Callable[[list[np.ndarray]], float], params: list[np.ndarray],
                  step: float = 1e-6) -> list[np.ndarray]:
    """Central differences in float64, one parameter entry at a time (only for small models)."""
    params = [p.astype(np.float64).copy() for p in params]
    grads = []
    for p in params:
        g = np.zeros_like(p)
        flat, gflat = p.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + step
            up = loss(params)
            flat[i] = saved - step
            down = loss(params)
            flat[i] = saved
            gflat[i] = (up - down) / (2 * step)
        grads.append(g)
    return grads


# ---------------------------------------------------------------------------------- artefacts
def grad_list(artefacts: dict[str, Any], key: str, names: Sequence[str], shapes: Sequence[tuple[int, ...]],
              module: int | None = None) -> list[np.ndarray]:
    """A list artefact of gradients, each a finite float array of the parameter's shape."""
    got = artefacts.get(key)
    if not isinstance(got, list) or len(got) != len(names):
        raise CheckFailed(f"expected {len(names)} gradients ({', '.join(names)}), got "
                          f"{len(got) if isinstance(got, list) else type(got).__name__}", module)
    result = []
    for value, name, shape in zip(got, names, shapes, strict=True):
        if value is None:
            raise CheckFailed(f"{name} got no gradient (.grad is None after backward()): the layer's "
                              f"parameters are not connected to the loss in the autograd graph", 5)
        result.append(_grad(value, name, shape))
    return result


def _grad(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    grad = expect.array({"g": value}, "g", what=f"the gradient of {name}", module=5)
    if grad.shape != tuple(shape):
        hint = " (a broadcast operand's gradient must be summed back to its own shape)" \
            if grad.size > int(np.prod(shape)) else ""
        raise CheckFailed(f"the gradient of {name} has shape {grad.shape}, expected {tuple(shape)}{hint}", 5)
    return grad


def close_grads(got: list[np.ndarray], expected: list[np.ndarray], names: Sequence[str], context: str,
                module: int | None = 5, rtol: float = 2e-3) -> None:
    """Each gradient within rtol of the expected one, relative to that gradient's own scale."""
    for g, e, name in zip(got, expected, names, strict=True):
        expect.close(g, e, f"{context}: the gradient of {name}", module=module, rtol=rtol,
                     atol=max(1e-6, rtol * float(np.abs(e).max(initial=0.0))))


def spot_check_grads(grads: list[np.ndarray], params: list[np.ndarray], names: Sequence[str],
                     loss: Callable[[list[np.ndarray]], float], seed: int, used_rows: np.ndarray, context: str,
                     module: int | None = 5, per_tensor: int = 4) -> None:
    """Central differences at a few random entries of each parameter (rows of the first, an embedding
    table, only among `used_rows`), for models too big to difference entry by entry."""
    r = np.random.default_rng([seed, 97])
    params = [p.astype(np.float64).copy() for p in params]
    for index, (grad, param, name) in enumerate(zip(grads, params, names, strict=True)):
        flat = param.reshape(-1)
        candidates = np.arange(flat.size)
        if index == 0:
            candidates = (used_rows[:, None] * param.shape[1] + np.arange(param.shape[1])).reshape(-1)
        picked = r.choice(candidates, min(per_tensor, candidates.size), replace=False)
        numeric = np.empty(picked.size)
        for j, entry in enumerate(picked):
            saved = flat[entry]
            flat[entry] = saved + 1e-6
            up = loss(params)
            flat[entry] = saved - 1e-6
            down = loss(params)
            flat[entry] = saved
            numeric[j] = (up - down) / 2e-6
        expect.close(grad.reshape(-1)[picked], numeric, f"{context}: the gradient of {name} (at sampled entries, "
                     f"against central differences)", module=module, rtol=1e-2,
                     atol=1e-6 + 2e-3 * float(np.abs(numeric).max()))


# ------------------------------------------------------------------------------- Linear stacks
def mlp_text(sizes: list[int], activations: list[str]) -> str:
    """The model an example's input went through, as `Linear(4, 8) -> ReLU -> Linear(8, 3)`."""
    layers = [f"Linear({a}, {b})" for a, b in itertools.pairwise(sizes)]
    return " -> ".join(part for i, layer in enumerate(layers)
                       for part in ([layer] + ([activations[i]] if i < len(activations) else [])))


def layer_shapes(sizes: list[int]) -> list[tuple[int, ...]]:
    return [s for fan_in, fan_out in itertools.pairwise(sizes) for s in ((fan_in, fan_out), (fan_out,))]


def layer_names(sizes: list[int]) -> list[str]:
    return [f"{kind} of Linear layer {i + 1}" for i in range(len(sizes) - 1) for kind in ("weight", "bias")]


def returned_weights(artefacts: dict[str, Any], key: str, sizes: list[int], what: str) -> Pairs:
    """Returned [W1, b1, ...] as float64 pairs, each finite and of its layer's shape."""
    got = artefacts.get(key)
    names = layer_names(sizes)
    if not isinstance(got, list) or len(got) != len(names):
        raise CheckFailed(f"{what}: expected {len(names)} arrays ({', '.join(names)})")
    return pairs([expect.array({"w": value}, "w", shape=shape, what=f"{what}: {name}")
                  for value, name, shape in zip(got, names, layer_shapes(sizes), strict=True)])


def falling(losses: Any, what: str, factor: float = 1.0) -> np.ndarray:
    curve = expect.array({"l": losses}, "l", what=f"the {what} loss curve")
    expect.that(curve.ndim == 1 and curve.size >= 2 and curve[-1] < curve[0] * factor,
                f"the {what} loss did not fall enough (first {curve.reshape(-1)[0]:.4g}, last "
                f"{curve.reshape(-1)[-1]:.4g}): the parameters are not moving in the direction that lowers it", 6)
    return curve
