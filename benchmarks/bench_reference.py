"""How fast is the reference TinyTorch? Two figures, measured side by side in one run, on one core.

1. Wall time of every graded suite (capstone + modules) on the reference, plain in-process form.
2. Training-step time of the reference against PyTorch CPU on the same MLP, CNN and attention block,
   printed as ratios (reference / PyTorch). Targets: suites within 20 s; MLP within 2x; CNN and
   attention within 4x.

Run: `python benchmarks/bench_reference.py` (needs `pip install torch==2.13.0`, the `bench` extra).
"""

from __future__ import annotations

import os

# One core for both frameworks: set before numpy or torch load their thread pools.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinytorch_reference.tinytorch.core import attention as tt_attention  # noqa: E402
from tinytorch_reference.tinytorch.core import layers as tt_layers  # noqa: E402
from tinytorch_reference.tinytorch.core import losses as tt_losses  # noqa: E402
from tinytorch_reference.tinytorch.core import optimizers as tt_optim  # noqa: E402
from tinytorch_reference.tinytorch.core import spatial as tt_spatial  # noqa: E402
from tinytorch_reference.tinytorch.core.tensor import Tensor  # noqa: E402

REPEATS = 30


def median_ms(step: Callable[[], None], repeats: int = REPEATS) -> float:
    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def suites_seconds() -> float:
    """All suites on the reference in a fresh interpreter pinned to one core."""
    command = [sys.executable, "-m", "capstone_tests", "--tinytorch", str(ROOT / "tinytorch_reference")]
    if os.path.exists("/usr/bin/taskset"):
        command = ["taskset", "-c", "0", *command]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    import json

    tests = json.loads(result.stdout)["tests"]
    failed = [t["name"] for t in tests if t["outcome"] != "passed"]
    if failed:
        raise SystemExit(f"the reference failed {failed}: fix that before benchmarking")
    print(f"suites: {len(tests)} tests on the reference in {seconds:.1f} s (target 20 s)")
    return seconds


# --------------------------------------------------------------------------- reference steps
def reference_mlp_step() -> Callable[[], None]:
    rng = np.random.default_rng(0)
    layers = [tt_layers.Linear(784, 256), tt_layers.Linear(256, 128), tt_layers.Linear(128, 10)]
    params = [p for layer in layers for p in layer.parameters()]
    optimizer = tt_optim.Adam(params, lr=1e-3)
    loss_fn = tt_losses.CrossEntropyLoss()
    x = Tensor(rng.standard_normal((64, 784)).astype(np.float32))
    y = rng.integers(0, 10, 64)

    def step() -> None:
        h = layers[0](x).relu()
        h = layers[1](h).relu()
        loss = loss_fn(layers[2](h), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def reference_cnn_step() -> Callable[[], None]:
    rng = np.random.default_rng(0)
    conv1, conv2 = tt_spatial.Conv2d(1, 8, 3), tt_spatial.Conv2d(8, 16, 3)
    pool = tt_spatial.MaxPool2d(2)
    head = tt_layers.Linear(16 * 5 * 5, 10)
    params = [*conv1.parameters(), *conv2.parameters(), *head.parameters()]
    optimizer = tt_optim.Adam(params, lr=1e-3)
    loss_fn = tt_losses.CrossEntropyLoss()
    x = Tensor(rng.standard_normal((32, 1, 28, 28)).astype(np.float32))
    y = rng.integers(0, 10, 32)

    def step() -> None:
        h = pool(conv1(x).relu())
        h = pool(conv2(h).relu())
        loss = loss_fn(head(h.reshape(32, -1)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def reference_attention_step() -> Callable[[], None]:
    rng = np.random.default_rng(0)
    mha = tt_attention.MultiHeadAttention(64, 4)
    x = Tensor(rng.standard_normal((8, 32, 64)).astype(np.float32), requires_grad=True)

    def step() -> None:
        for p in mha.parameters():
            p.grad = None
        mha.forward(x).sum().backward()

    return step


# ----------------------------------------------------------------------------- torch steps
def torch_steps() -> dict[str, Callable[[], None]]:
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 10))
    mha = nn.MultiheadAttention(64, 4, batch_first=True)
    mlp_x, mlp_y = torch.randn(64, 784), torch.randint(0, 10, (64,))
    cnn_x, cnn_y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    att_x = torch.randn(8, 32, 64, requires_grad=True)

    def trainer(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()

        def step() -> None:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return step

    def attention_step() -> None:
        mha.zero_grad()
        mha(att_x, att_x, att_x, need_weights=False)[0].sum().backward()

    return {"mlp": trainer(mlp, mlp_x, mlp_y), "cnn": trainer(cnn, cnn_x, cnn_y), "attention": attention_step}


def main() -> None:
    suites_seconds()
    reference = {"mlp": reference_mlp_step(), "cnn": reference_cnn_step(), "attention": reference_attention_step()}
    torch = torch_steps()
    targets = {"mlp": 2.0, "cnn": 4.0, "attention": 4.0}
    labels = {
        "mlp": "MLP 784-256-128-10, batch 64, Adam step",
        "cnn": "CNN conv3x3(8)-pool-conv3x3(16)-pool-linear, batch 32 of 28x28, Adam step",
        "attention": "MultiHeadAttention(64, 4) forward+backward on (8, 32, 64)",
    }
    print(f"{'workload':<76} {'reference ms':>12} {'PyTorch ms':>11} {'ratio':>6} {'target':>7}")
    for name in ("mlp", "cnn", "attention"):
        # Interleave the two so drift on the machine affects both alike.
        ours, theirs = [], []
        for _ in range(3):
            ours.append(median_ms(reference[name]))
            theirs.append(median_ms(torch[name]))
        ours_ms, theirs_ms = min(ours), min(theirs)
        print(f"{labels[name]:<76} {ours_ms:>12.2f} {theirs_ms:>11.2f} {ours_ms / theirs_ms:>6.2f} "
              f"{'<= ' + str(targets[name]) + 'x':>7}")


if __name__ == "__main__":
    main()
