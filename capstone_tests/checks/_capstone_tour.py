"""The tour of layer types (probes/_capstone_tour.py) judged in float64, and the blame it supports.

A capstone model's missing or wrong gradient says that its chain is broken; the tour says which link. Each kind's
gradients are compared with closed forms (central differences for attention), and a fault names the module that
defines the kind: Linear 03, activations 02, losses 04, Conv2d and pooling 09, embeddings 11, attention 12, and
05 for the autograd's own operations, which come first because every layer is built on them. A backward that breaks
its contract with the engine (a bare array where a tuple of one gradient per input is due: one row of the gradient
where the whole was due, or that row repeated) is 05's whatever the kind: the course teaches that contract there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..blame import AUTOGRAD, GRADIENT_RULE, gradient_detail, returns_bare_array
from ..probes import _capstone_tour as probe
from ..verdict import CheckFailed
from . import _capstone_models as f64
from . import expect

# Three GELU formulas are in use (exact erf, the tanh approximation, x * sigmoid(1.702 x)); their slopes differ
# by up to ~0.03 on [-3, 3], while a detached or wrong GELU is off by far more (the slope of x alone is 1).
GELU_GRAD_ATOL = 0.04
# Modules whose blame a broken layer overrides: the autograd (05) and the optimizer (06) are where a check
# points when it sees only that a gradient or a trained weight is wrong, and None is "no module named".
OVERRIDABLE = frozenset({None, 5, 6})

LABELS: dict[str, tuple[int, str]] = {
    "autograd": (5, "the autograd's operations (a @ b + c, reshape, transpose)"),
    "linear": (3, "Linear(4, 3)"),
    "relu": (2, "ReLU"),
    "sigmoid": (2, "Sigmoid"),
    "gelu": (2, "GELU"),
    "softmax": (2, "Softmax"),
    "mse": (4, "MSELoss"),
    "cross_entropy": (4, "CrossEntropyLoss"),
    "bce": (4, "BinaryCrossEntropyLoss"),
    "conv2d": (9, "Conv2d(2, 2, kernel_size=3)"),
    "maxpool2d": (9, "MaxPool2d(2)"),
    "embedding": (11, "Embedding(6, 3)"),
    "positional_encoding": (11, "PositionalEncoding(5, 4)"),
    "attention": (12, f"MultiHeadAttention(4, {probe.ATTENTION_HEADS})"),
}

# What a correct backward computes, for a gradient that arrived with wrong values.
FORMULAS: dict[str, str] = {
    "autograd": "every op must pass the incoming gradient to all its parents, summed back to each parent's shape "
                "(matmul: g @ b^T and a^T @ g; reshape and transpose: the gradient reshaped or transposed back)",
    "linear": "dx = g @ W^T, dW = x^T @ g, db = g summed over the batch",
    "relu": "ReLU's backward multiplies the incoming gradient by 1 where x > 0 and by 0 elsewhere (not by relu(x))",
    "sigmoid": "Sigmoid's backward multiplies the incoming gradient by s * (1 - s), s being the output",
    "gelu": "GELU's backward multiplies the incoming gradient by the derivative of the formula its forward uses",
    "softmax": "Softmax's backward is s * (g - sum(g * s)) along the softmax axis",
    "mse": "the gradient of mean((p - t)^2) is 2 * (p - t) / (number of elements)",
    "cross_entropy": "the gradient of the mean cross-entropy is (softmax(logits) - one_hot(labels)) / batch",
    "bce": "the gradient of the mean binary cross-entropy is (p - y) / (p * (1 - p)) / batch",
    "conv2d": "dW sums each output gradient times its input window; db sums the output gradient over the batch "
              "and every position",
    "maxpool2d": "each window's gradient goes to its maximum only",
    "embedding": "each looked-up row receives its output's gradient, added up over repeated ids (np.add.at)",
    "positional_encoding": "the gradient passes unchanged to x and, summed over the batch, to the table rows used",
    "attention": "softmax(Q K^T / sqrt(d)) V needs gradients through Q, K and V and all four projections",
}

# Why a gradient is missing, when nothing reached the kind's tensors at all.
DETACHED: dict[str, str] = {
    "autograd": "every Tensor operation must record its parents and a backward when a parent requires grad",
    "linear": "forward must compute x @ self.weight + self.bias with the parameters themselves, not their .data "
              "or new Tensors made from it: those are cut from the autograd graph",
    "conv2d": "Conv2d.forward must return a Tensor that records x, weight and bias with a backward giving dW and db "
              "(the course's Conv2d backward); a new Tensor made from the numpy result has no backward",
    "maxpool2d": "MaxPool2d.forward must return a Tensor that records x with a backward routing the gradient to "
                 "each window's maximum; a new Tensor made from the numpy result has no backward",
    "embedding": "Embedding.forward must index self.weight itself (weight[ids], which has a backward), not "
                 "self.weight.data",
    "positional_encoding": "PositionalEncoding.forward must add its position table (the Tensor, not its .data) to "
                           "x with a Tensor operation",
    "attention": "MultiHeadAttention.forward must compute with its projections and Tensor operations (matmul, "
                 "softmax, reshape, transpose) throughout, never through .data",
}


@dataclass(frozen=True)
class Fault:
    kind: str
    module: int
    message: str
    hint: str
    example: dict[str, Any] | None = None  # the kind's own worked example, for a gradient with wrong values


def _expected(challenge: dict[str, Any], kind: str) -> dict[str, np.ndarray]:
    """The float64 gradients of sum(kind(x) * r) (or of the loss) for the probe's data of that kind."""
    d = {k: np.asarray(v, dtype=np.float64) for k, v in probe.data(challenge, kind).items()}
    x, r = d.get("x"), d.get("r")
    if kind == "autograd":
        dz = r.T.reshape(3, 5)  # out = (a @ b + c).reshape(5, 3).T, so d(out)/dz undoes both
        return {"a": dz @ d["b"].T, "b": d["a"].T @ dz, "c": dz.sum(axis=0)}
    if kind == "linear":
        return {"x": r @ d["w"].T, "weight": x.T @ r, "bias": r.sum(axis=0)}
    if kind == "relu":
        return {"x": r * (x > 0)}
    if kind == "sigmoid":
        s = f64.activate("sigmoid", x)
        return {"x": r * s * (1 - s)}
    if kind == "gelu":
        c = np.sqrt(2 / np.pi)
        inner = np.tanh(c * (x + 0.044715 * x**3))
        return {"x": r * (0.5 * (1 + inner) + 0.5 * x * (1 - inner**2) * c * (1 + 3 * 0.044715 * x**2))}
    if kind == "softmax":
        s = f64.softmax(x)
        return {"x": s * (r - (s * r).sum(axis=-1, keepdims=True))}
    if kind == "mse":
        return {"x": 2 * (x - d["target"]) / x.size}
    if kind == "cross_entropy":
        return {"x": f64.cross_entropy(x, d["labels"].astype(np.int64))[1]}
    if kind == "bce":
        return {"x": (x - d["labels"]) / (x * (1 - x)) / len(x)}
    if kind == "conv2d":
        return {"weight": np.einsum("nopq,ncpqij->ocij", r, _windows(x, 3)), "bias": r.sum(axis=(0, 2, 3))}
    if kind == "maxpool2d":
        n, c, h, w = x.shape
        blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
        routed = np.zeros_like(blocks)
        np.put_along_axis(routed, blocks.argmax(axis=-1)[..., None], r[..., None], axis=-1)
        return {"x": routed.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)}
    if kind == "embedding":
        grad = np.zeros_like(d["w"])
        np.add.at(grad, d["ids"].astype(np.int64), r)
        return {"weight": grad}
    if kind == "positional_encoding":
        table = np.zeros((5, 4))
        table[:3] = r.sum(axis=0)
        return {"x": r, "table": table}
    if kind == "attention":
        names = ["x", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo"]

        def loss(p: list[np.ndarray]) -> float:
            out = f64.multi_head_attention(p[0], f64.pairs(p[1:]), probe.ATTENTION_HEADS, causal=False)
            return float((out * r).sum())

        return dict(zip(names, f64.numeric_grads(loss, [d[n] for n in names]), strict=True))
    raise ValueError(kind)


def _windows(x: np.ndarray, k: int) -> np.ndarray:
    """(N, C, Ho, Wo, k, k) windows of a stride-1, unpadded convolution."""
    h, w = x.shape[2:]
    return np.stack([np.stack([x[:, :, i:i + h - k + 1, j:j + w - k + 1] for j in range(k)], axis=-1)
                     for i in range(k)], axis=-2)


def _tolerance(kind: str, want: np.ndarray, r: np.ndarray | None, kind_scale: float) -> tuple[float, float]:
    """(rtol, atol): float32 arithmetic is ~1e-6 relative; attention is compared with central differences.
    `kind_scale`: the largest of all this kind's expected gradients. The key bias's gradient is zero in exact
    arithmetic (softmax ignores a score added to a whole row), so float32 leaves ~1e-6 of noise there, relative
    to the other gradients of the graph, not to its own zero (that failed the reference at 6 seeds in 1,000)."""
    scale = float(np.abs(want).max(initial=0.0))
    if kind == "gelu":
        return 0.0, GELU_GRAD_ATOL * float(np.abs(r).max())
    if kind == "attention":
        return 1e-2, 1e-6 + 2e-3 * max(scale, 1e-2 * kind_scale)
    return 1e-3, 1e-6 + 1e-4 * scale


def fault(challenge: dict[str, Any], kind: str, entry: Any) -> Fault | None:
    """What is wrong with one kind's gradients in the tour, or None (also for a kind the package lacks)."""
    module, label = LABELS[kind]
    if not isinstance(entry, dict) or "missing" in entry:
        return None
    if "error" in entry and returns_bare_array(str(entry["error"])):
        # The backward's contract with the engine (a tuple, one gradient per input) is module 05's, whichever
        # layer's backward broke it: the course teaches every operation's, activation's and loss's backward there.
        return Fault(kind, AUTOGRAD, f"{label} alone (forward, then backward() of a weighted sum) raised "
                     f"{str(entry['error'])[:200]}", f"{gradient_detail(str(entry['error']))}; {GRADIENT_RULE}")
    if "error" in entry:
        return Fault(kind, module, f"{label} alone (forward, then backward() of a weighted sum) raised "
                     f"{str(entry['error'])[:200]}", f"run {label} forward and backward on a small input yourself: "
                     f"the error comes from its code or from the backward it relies on")
    got = entry.get("grads") if isinstance(entry.get("grads"), dict) else {}
    want = _expected(challenge, kind)
    if kind == "positional_encoding":
        tables = got.get("table") if isinstance(got.get("table"), list) else []
        # Only a single table is judged here; how the table is stored is the 11 suite's business.
        got = {"x": got.get("x")} | ({"table": tables[0]} if len(tables) == 1 else {})
        want = {k: v for k, v in want.items() if k in got}
    inputs = probe.data(challenge, kind)
    # The kind's graph was sum(layer(inputs) * r): those inputs (and r) make its examples.
    given = {"layer": label, **({"loss": "sum(output * r)"} if "r" in inputs else {}), **inputs}
    none = [name for name in want if got.get(name) is None]
    if none:
        found = _missing(kind, module, label, none, list(want))
        return replace(found, example=expect.example(want[none[0]], None, given))
    r = inputs.get("r")
    kind_scale = max((float(np.abs(v).max(initial=0.0)) for v in want.values()), default=0.0)
    for name, expected in want.items():
        value = got[name]
        if isinstance(value, dict) and "__unsupported__" in value:
            return Fault(kind, module, f"{label} alone: the gradient of {_its(name)} is a "
                         f"{value['__unsupported__']}, not a float array", FORMULAS[kind])
        try:
            grad = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return Fault(kind, module, f"{label} alone: the gradient of {_its(name)} is not a numeric array",
                         FORMULAS[kind])
        if kind == "positional_encoding" and name == "table" and grad.shape != expected.shape:
            continue  # a table stored in another layout: the 11 suite judges it
        if expected.ndim > 1 and grad.shape == expected.shape[1:]:
            return Fault(kind, AUTOGRAD, f"{label} alone: the gradient of {_its(name)} has shape {grad.shape}, one "
                         f"row of the expected {expected.shape}", GRADIENT_RULE, expect.example(expected, grad, given))
        if grad.shape != expected.shape:
            return Fault(kind, module, f"{label} alone: the gradient of {_its(name)} has shape {grad.shape}, "
                         f"expected {expected.shape}", FORMULAS[kind], expect.example(expected, grad, given))
        rtol, atol = _tolerance(kind, expected, r, kind_scale)
        if np.all(np.isfinite(grad)) and np.allclose(grad, expected, rtol=rtol, atol=atol):
            continue
        example = expect.example(expected, grad, given, expect.worst(grad, expected))
        if _rows_repeat(grad) and not _rows_repeat(expected):
            # What an engine that broadcasts whatever it is given makes of a bare array: its first row, everywhere.
            return Fault(kind, AUTOGRAD, f"{label} alone: every row of the gradient of {_its(name)} is the same, "
                         f"while the right rows differ", f"one row was spread over the whole tensor; {GRADIENT_RULE}",
                         example)
        worst = float(np.nanmax(np.abs(grad - expected))) if np.all(np.isfinite(grad)) else float("inf")
        return Fault(kind, module, f"{label} alone: the gradient of {_its(name)} is wrong (largest difference "
                     f"{worst:.3g}, against a float64 computation)", FORMULAS[kind], example)
    return None


def _rows_repeat(values: np.ndarray) -> bool:
    return values.ndim > 1 and len(values) > 1 and bool(np.all(values == values[:1]))


def _its(name: str) -> str:
    return "its input" if name == "x" else f"its {name}"


def _missing(kind: str, module: int, label: str, none: list[str], every: list[str]) -> Fault:
    """A Fault for tensors that got no gradient, with the likeliest cause for the pattern of which did not."""
    parts = [_its(name) for name in none]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    what = f"{label} alone (forward, then backward() of a weighted sum): {listed} got no gradient (.grad is None)"
    if kind == "linear" and none == ["bias"]:
        return Fault(kind, module, f"{what}, while its weight and input did: the Linear bias is cut from the graph",
                     "forward must use self.bias itself (x @ self.weight + self.bias), not self.bias.data or a new "
                     "Tensor made from it")
    if kind == "linear" and none == ["x"]:
        return Fault(kind, module, f"{what}, while its weight and bias did", "forward must compute with its input "
                     "x itself, not x.data: earlier layers get their gradient through it")
    if kind == "linear" and "x" not in none:
        return Fault(kind, module, f"{what}, while its input did", DETACHED["linear"])
    if len(none) < len(every) and kind in ("positional_encoding", "attention"):
        return Fault(kind, module, f"{what}, while the others did", DETACHED[kind])
    return Fault(kind, module, f"{what}: its output is cut from the autograd graph",
                 DETACHED.get(kind, f"{label}.forward must build its output from Tensor operations on its input "
                              f"(or attach its own backward), never wrap a numpy result (.data) in a new Tensor"))


def faults(challenge: dict[str, Any], artefacts: dict[str, Any], kinds: tuple[str, ...]) -> list[Fault]:
    """The faults of the toured kinds among `kinds`, autograd first, then in the tour's order."""
    tour = artefacts.get("tour")
    if not isinstance(tour, dict):
        return []
    return [found for kind in probe.KINDS if kind in kinds
            if (found := fault(challenge, kind, tour.get(kind))) is not None]


def fail(found: Fault, seen: str | None = None, **evidence: Any) -> CheckFailed:
    """The failure a fault makes: its module, its cause (and what the test saw), and the hint for that cause."""
    message = found.message if seen is None else f"{found.message} (in this test: {seen})"
    if found.example is not None:  # the broken layer's own example says more than the whole model's
        evidence["example"] = found.example
    return CheckFailed(message, found.module, hint=found.hint, layer=found.kind, **evidence)


@contextmanager
def blamed(challenge: dict[str, Any], artefacts: dict[str, Any], kinds: tuple[str, ...],
           also: tuple[int, ...] = ()) -> Iterator[None]:
    """Run a check's gradient and training assertions; a failure that blames the autograd, the optimizer, no
    module or one of `also` (a guess of that check's) is blamed instead on the first broken kind this test's
    model uses, when the tour found one."""
    try:
        yield
    except CheckFailed as failure:
        verdict = failure.verdict
        overridable = verdict.module in OVERRIDABLE or verdict.module in also
        found = faults(challenge, artefacts, kinds) if overridable else []
        if not found:
            raise
        kept = {key: value for key, value in verdict.evidence.items() if key not in ("hint", "layer")}
        raise fail(found[0], verdict.message, **kept) from failure


Check = Callable[[dict[str, Any], dict[str, Any]], Any]


def blames_layers(also: tuple[int, ...]) -> Callable[[Check], Check]:
    """A module suite's check, run `blamed` with its probe's tour (probe.USES[its name]); `also` is the suite's
    own module, which gives way to the module of a broken layer its model is built from."""
    def wrap(check_function: Check) -> Check:
        kinds = probe.USES[check_function.__name__]

        @functools.wraps(check_function)
        def checked(challenge: dict[str, Any], artefacts: dict[str, Any]) -> Any:
            with blamed(challenge, artefacts, kinds, also):
                return check_function(challenge, artefacts)

        return checked

    return wrap
