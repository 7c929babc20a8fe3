"""A tour of the layer types, each alone: one small graph per kind, `(layer(x) * R).sum().backward()`.

A capstone model whose gradient is missing or wrong shows *that* something in its chain is broken, not *which*
piece: a Linear bias that never gets a gradient looks the same whether Linear unwrapped `self.bias.data` or
the autograd lost a broadcast operand. Each capstone probe that calls backward() therefore also runs, after its
own model, the tour of the kinds its model uses; the checks compare every kind's gradients with float64 closed
forms (`checks/_capstone_tour.py`) and blame the module that defines the first kind that is broken. P6 tours
every kind the course teaches a backward for, and fails on any of them.

Only the safe subset (docs/tinytorch-api.md): no Tanh, AvgPool2d, LayerNorm or `mean`, whose backward the
course never assigns; Conv2d's input gradient is not asked for (the course's Conv2d need not compute it).
Every array comes from the challenge seed, so the check rebuilds the same data without the probe.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..boundary.session import RemoteError
from ..resolver import ModuleMissing, Resolver
from ._common import float32, grad_later

# In the order a blame looks at them: the autograd's own operations first (every layer is built on them),
# then layers, activations and losses, then the composite layers that contain Linear layers.
KINDS = ("autograd", "linear", "relu", "sigmoid", "gelu", "softmax", "mse", "cross_entropy", "bce", "conv2d",
         "maxpool2d", "embedding", "positional_encoding", "attention")
TOUR_STREAM = 7  # beside the streams of probes/_capstone_models (1-6)
ATTENTION_HEADS = 2

# The kinds each capstone model is built from (P6 tours them all): what its probe tours, and where its check
# may look for the layer to blame.
USES: dict[str, tuple[str, ...]] = {
    "test_complete_ml_pipeline_end_to_end": ("autograd", "linear", "relu", "cross_entropy"),
    "test_mlp_architecture_integration": ("autograd", "linear", "relu", "sigmoid", "cross_entropy"),
    "test_cnn_architecture_integration": ("autograd", "linear", "relu", "cross_entropy", "conv2d", "maxpool2d"),
    "test_transformer_architecture_integration": ("autograd", "linear", "cross_entropy", "embedding",
                                                  "positional_encoding", "attention"),
    "test_xor_convergence": ("autograd", "linear", "relu", "sigmoid", "bce"),
    "test_binary_classification_convergence": ("autograd", "linear", "sigmoid", "bce"),
    "test_deep_network_gradient_flow": KINDS,
    "test_gradient_accumulation_correctness": ("autograd", "linear", "relu", "cross_entropy"),
    # Module suites whose models are built from other modules' layers: a Linear bias cut from the graph is
    # Linear's fault (03), not the Trainer's (07), attention's (12) or GPT's (13).
    "test_train_epoch_sgd_updates": ("autograd", "linear", "mse"),
    "test_loss_falls_over_epochs": ("autograd", "linear", "relu", "mse"),
    "test_gradient_accumulation_equals_big_batch": ("autograd", "linear", "mse"),
    "test_trainer_clips_gradients": ("autograd", "linear", "mse"),
    "test_mha_all_parameters_get_gradients": ("autograd", "linear"),
    "test_gpt_gradients_reach_all_parameters": ("autograd", "linear", "gelu", "cross_entropy", "embedding",
                                                "positional_encoding", "attention"),
}


def data(challenge: dict[str, Any], kind: str) -> dict[str, np.ndarray]:
    """The arrays of one kind's graph; its upstream gradient is "r" (the loss is sum(out * r))."""
    r = np.random.default_rng([challenge["seed"], TOUR_STREAM, KINDS.index(kind)])

    def normal(*shape: int) -> np.ndarray:
        return float32(r.standard_normal(shape))

    if kind == "autograd":
        return {"a": normal(3, 4), "b": normal(4, 5), "c": normal(5), "r": normal(3, 5)}
    if kind == "linear":
        return {"x": normal(3, 4), "w": normal(4, 3) * np.float32(0.5), "b": normal(3), "r": normal(3, 3)}
    if kind == "relu":
        # Away from 0: no entry sits on the kink, where float32 rounding alone would pick the slope.
        return {"x": float32(r.choice([-1.0, 1.0], (3, 5)) * r.uniform(0.1, 2.0, (3, 5))), "r": normal(3, 5)}
    if kind in ("sigmoid", "gelu"):
        return {"x": float32(r.uniform(-3.0, 3.0, (3, 5))), "r": normal(3, 5)}
    if kind == "softmax":
        return {"x": normal(3, 5) * np.float32(2.0), "r": normal(3, 5)}
    if kind == "mse":
        return {"x": normal(3, 2), "target": normal(3, 2)}
    if kind == "cross_entropy":
        return {"x": normal(4, 3) * np.float32(2.0), "labels": r.integers(0, 3, 4)}
    if kind == "bce":
        # Inside (0.1, 0.9): far from where an edition's clipping of p would change the gradient.
        return {"x": float32(r.uniform(0.1, 0.9, (4, 1))), "labels": r.integers(0, 2, (4, 1))}
    if kind == "conv2d":
        return {"x": normal(2, 2, 5, 5), "w": normal(2, 2, 3, 3) * np.float32(0.3), "b": normal(2),
                "r": normal(2, 2, 3, 3)}
    if kind == "maxpool2d":
        return {"x": normal(1, 2, 4, 4), "r": normal(1, 2, 2, 2)}
    if kind == "embedding":
        return {"ids": r.integers(0, 5, (2, 4)), "w": normal(6, 3), "r": normal(2, 4, 3)}
    if kind == "positional_encoding":
        return {"x": normal(2, 3, 4), "r": normal(2, 3, 4)}
    if kind == "attention":
        d = 4
        found = {"x": normal(1, 3, d), "r": normal(1, 3, d)}
        for name in ("q", "k", "v", "o"):
            found[f"w{name}"] = normal(d, d) * np.float32(1 / np.sqrt(d))
            found[f"b{name}"] = normal(d) * np.float32(0.1)
        return found
    raise ValueError(kind)


def _leaf(tt: Resolver, array: np.ndarray) -> Any:
    return tt.Tensor(float32(array), requires_grad=True)


def _weighted_sum(tt: Resolver, out: Any, r: np.ndarray) -> Any:
    return (out * tt.Tensor(float32(r))).sum()


def _set(param: Any, array: np.ndarray) -> None:
    param.data = float32(array).copy()
    param.requires_grad = True


def _run(tt: Resolver, kind: str, d: dict[str, np.ndarray]) -> dict[str, Any]:
    """Build one kind's graph, call backward(), return its gradients (proxies, read with the artefacts)."""
    if kind == "autograd":
        a, b, c = _leaf(tt, d["a"]), _leaf(tt, d["b"]), _leaf(tt, d["c"])
        # matmul, a broadcast add, reshape and transpose: the operations every layer below is built from.
        _weighted_sum(tt, (a @ b + c).reshape(5, 3).transpose(), d["r"]).backward()
        return {"a": grad_later(a), "b": grad_later(b), "c": grad_later(c)}
    if kind == "linear":
        layer = tt.Linear(4, 3)
        _set(layer.weight, d["w"])
        _set(layer.bias, d["b"])
        x = _leaf(tt, d["x"])
        _weighted_sum(tt, layer.forward(x), d["r"]).backward()
        return {"x": grad_later(x), "weight": grad_later(layer.weight), "bias": grad_later(layer.bias)}
    if kind in ("relu", "sigmoid", "gelu", "softmax"):
        activation = {"relu": tt.ReLU, "sigmoid": tt.Sigmoid, "gelu": tt.GELU, "softmax": tt.Softmax}[kind]()
        x = _leaf(tt, d["x"])
        _weighted_sum(tt, activation.forward(x), d["r"]).backward()
        return {"x": grad_later(x)}
    if kind in ("mse", "cross_entropy", "bce"):
        loss_fn = {"mse": tt.MSELoss, "cross_entropy": tt.CrossEntropyLoss, "bce": tt.BinaryCrossEntropyLoss}[kind]()
        x = _leaf(tt, d["x"])
        target = d["target"] if kind == "mse" else d["labels"]
        loss_fn(x, tt.Tensor(float32(target))).backward()
        return {"x": grad_later(x)}
    if kind == "conv2d":
        conv = tt.Conv2d(2, 2, 3)
        _set(conv.weight, d["w"])
        _set(conv.bias, d["b"])
        _weighted_sum(tt, conv.forward(tt.Tensor(d["x"])), d["r"]).backward()
        return {"weight": grad_later(conv.weight), "bias": grad_later(conv.bias)}
    if kind == "maxpool2d":
        x = _leaf(tt, d["x"])
        _weighted_sum(tt, tt.MaxPool2d(2).forward(x), d["r"]).backward()
        return {"x": grad_later(x)}
    if kind == "embedding":
        embedding = tt.Embedding(6, 3)
        _set(embedding.weight, d["w"])
        _weighted_sum(tt, embedding.forward(tt.Tensor(float32(d["ids"]))), d["r"]).backward()
        return {"weight": grad_later(embedding.weight)}
    if kind == "positional_encoding":
        encoding = tt.PositionalEncoding(5, 4)
        table = list(iter(encoding.parameters()))
        for param in table:
            param.requires_grad = True
        x = _leaf(tt, d["x"])
        _weighted_sum(tt, encoding.forward(x), d["r"]).backward()
        return {"x": grad_later(x), "table": [grad_later(p) for p in table]}
    if kind == "attention":
        attention = tt.MultiHeadAttention(4, ATTENTION_HEADS)
        found: dict[str, Any] = {}
        for short, name in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj"), ("o", "out_proj")):
            projection = getattr(attention, name)
            _set(projection.weight, d[f"w{short}"])
            _set(projection.bias, d[f"b{short}"])
            found[f"w{short}"], found[f"b{short}"] = projection.weight, projection.bias
        x = _leaf(tt, d["x"])
        _weighted_sum(tt, attention.forward(x), d["r"]).backward()
        return {"x": grad_later(x)} | {key: grad_later(param) for key, param in found.items()}
    raise ValueError(kind)


def tour(tt: Resolver, challenge: dict[str, Any], kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    """{kind: {"grads": {...}}, {"error": "..."} or {"missing": "..."}} for each kind. Run it after the probe's
    own model, which has called enable_autograd() (once: an edition that patches Tensor twice could double its
    gradients): the layers made here draw initial weights from numpy's global generator (then overwritten)."""
    # An error of the probe's own model, still pipelined, must surface as the probe's error, not as this tour's.
    tt.settle()
    found: dict[str, Any] = {}
    for kind in kinds:
        try:
            grads = _run(tt, kind, data(challenge, kind))
            tt.settle()  # a failing call raises here, inside this kind's try
        except ModuleMissing as missing:  # that module's own tests fail for it; the check leaves the kind out
            found[kind] = {"missing": str(missing)[:300]}
            continue
        except Exception as error:  # the student's error is evidence about this kind, not the end of the probe
            kind_of_error = error.failure.type if isinstance(error, RemoteError) else type(error).__name__
            found[kind] = {"error": f"{kind_of_error}: {error}"[:300]}
            continue
        found[kind] = {"grads": grads}
    return found
