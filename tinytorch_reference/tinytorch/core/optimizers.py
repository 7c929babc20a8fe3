"""Module 06: optimizers.

Updates run in numpy on float32 arrays, outside the graph. Per-parameter state (velocity, m, v) and one
scratch buffer per parameter are allocated once, and every update is written with in-place ufuncs
(`out=`). The one exception is deliberate: `step()` *replaces* each parameter's `.data` with a new
array (the contract's wording) instead of writing into it, so a caller's snapshot of the weights, or the
numpy array a Tensor was built on (Tensor does not copy float32 input), is never changed behind its
back. That costs one allocation per parameter; measured, no slower than the in-place update.
Hyperparameters are Python floats: numpy 2 keeps float32 arrays float32 when mixed with Python floats,
but an np.float64 scalar would promote the whole update to float64.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .tensor import Tensor

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]


class Optimizer:
    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        self.lr = float(lr)
        self.t = 0  # number of step() calls
        self._scratch = [np.empty_like(p.data) for p in self.params]

    @staticmethod
    def _grad(p: Tensor) -> np.ndarray | None:
        """p.grad as an array. Autograd stores arrays, but a caller may assign a Tensor (the course's
        tests simulate gradients so), and numpy's in-place ufuncs refuse a Tensor operand."""
        grad = p.grad
        return grad.data if isinstance(grad, Tensor) else grad

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr * v with v = momentum * v + (g + weight_decay * p) (PyTorch's convention, no dampening)."""

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.velocity = [np.zeros_like(p.data) for p in self.params] if self.momentum else []

    def step(self) -> None:
        self.t += 1
        lr, momentum, decay = self.lr, self.momentum, self.weight_decay
        for i, p in enumerate(self.params):
            grad = self._grad(p)
            if grad is None:
                continue
            scratch = self._scratch[i]
            if decay:
                np.multiply(p.data, decay, out=scratch)
                scratch += grad
                grad = scratch
            if momentum:
                velocity = self.velocity[i]
                velocity *= momentum
                velocity += grad
                grad = velocity
            np.multiply(grad, lr, out=scratch)
            p.data = p.data - scratch


class Adam(Optimizer):
    """Adam with bias correction; `weight_decay` is L2, added to the gradient (PyTorch's Adam)."""

    decoupled = False

    def __init__(self, params: Iterable[Tensor], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.betas = (self.beta1, self.beta2)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        # Per-parameter step counts, so a parameter skipped on some steps (grad None) gets the bias
        # correction of its own number of updates, as in PyTorch.
        self.steps = [0] * len(self.params)
        self._decayed = [np.empty_like(p.data) for p in self.params] if self._l2 else []

    @property
    def _l2(self) -> bool:
        return bool(self.weight_decay) and not self.decoupled

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        for i, p in enumerate(self.params):
            grad = self._grad(p)
            if grad is None:
                continue
            self.steps[i] += 1
            t = self.steps[i]
            m, v, scratch = self.m[i], self.v[i], self._scratch[i]
            if self.decoupled and self.weight_decay:
                p.data = p.data * (1.0 - self.lr * self.weight_decay)
            elif self.weight_decay:
                decayed = np.multiply(p.data, self.weight_decay, out=self._decayed[i])
                decayed += grad
                grad = decayed
            m *= b1
            np.multiply(grad, 1.0 - b1, out=scratch)
            m += scratch
            v *= b2
            np.multiply(grad, grad, out=scratch)
            scratch *= 1.0 - b2
            v += scratch
            # Bias correction folded into two scalars: lr * m_hat / (sqrt(v_hat) + eps) equals
            # lr_t * m / (sqrt(v) + eps_hat) with lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t) and
            # eps_hat = eps * sqrt(1 - b2^t). Same update, two fewer passes over every array.
            correction2 = math.sqrt(1.0 - b2**t)
            lr_t = self.lr * correction2 / (1.0 - b1**t)
            eps_hat = self.eps * correction2
            np.sqrt(v, out=scratch)
            scratch += eps_hat
            np.divide(m, scratch, out=scratch)
            scratch *= lr_t
            p.data = p.data - scratch


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam update."""

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
