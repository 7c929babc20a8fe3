"""Module 09: spatial layers (Conv2d, MaxPool2d, AvgPool2d), NCHW.

Convolution and pooling are *primitives* here, each with its own backward, rather than compositions of
`getitem` and `matmul`. Composing them would build one graph node (and one copy of the input) per kernel
offset or per output pixel, and backward would then scatter k*k separate gradients; the course's own
Conv2d loops over pixels in Python and runs about 2,000x slower than PyTorch. As primitives:

- forward is im2col (a strided *view* of the padded input, no Python loop) and one matmul;
- the weight gradient is one tensordot of the output gradient with the saved columns;
- the input gradient is col2im, which loops only over the k*k kernel offsets, each a strided slice-add
  of a whole (N, C, Ho, Wo) block, never over pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .layers import Layer
from .tensor import FLOAT, Tensor

__all__ = ["AvgPool2d", "Conv2d", "MaxPool2d"]


def _as_4d(x: Any) -> Tensor:
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim != 4:
        raise ValueError(f"expected an NCHW input of 4 dimensions, got shape {x.shape}")
    return x


def _pad(data: np.ndarray, padding: int, value: float) -> np.ndarray:
    if padding == 0:
        return data
    width = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    return np.pad(data, width, constant_values=value)


def _windows(padded: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Read-only view (N, C, Ho, Wo, k, k) of every kernel window: no data is copied."""
    if padded.shape[2] < kernel or padded.shape[3] < kernel:
        raise ValueError(f"kernel {kernel} is larger than the (padded) input {padded.shape[2:]}")
    return sliding_window_view(padded, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]


def _col2im(dwin: np.ndarray, padded_shape: tuple[int, ...], stride: int, padding: int) -> np.ndarray:
    """Scatter-add window gradients (N, C, k, k, Ho, Wo) back onto the input, then strip the padding.

    Windows overlap when stride < k, so contributions must add; one slice-add per kernel offset (i, j)
    covers every window at once.
    """
    _, _, k, _, out_h, out_w = dwin.shape
    dx = np.zeros(padded_shape, dtype=FLOAT)
    for i in range(k):
        for j in range(k):
            dx[:, :, i:i + stride * (out_h - 1) + 1:stride, j:j + stride * (out_w - 1) + 1:stride] += \
                dwin[:, :, i, j]
    if padding:
        dx = dx[:, :, padding:-padding, padding:-padding]
    return dx


class _NamedBackward:
    """A backward closure under a class name: the course's tests check a convolution's or pooling's
    output by `type(out._grad_fn).__name__` (PyTorch's grad_fn naming), which a bare closure lacks."""

    __slots__ = ("_backward",)

    def __init__(self, backward: Callable[[np.ndarray], tuple[np.ndarray | None, ...]]) -> None:
        self._backward = backward

    def __call__(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        return self._backward(g)


class Conv2dBackward(_NamedBackward):
    pass


class MaxPool2dBackward(_NamedBackward):
    pass


class AvgPool2dBackward(_NamedBackward):
    pass


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int = 1, padding: int = 0) -> Tensor:
    """The convolution primitive (cross-correlation, as in every framework)."""
    x = _as_4d(x)
    n, c, _, _ = x.shape
    out_c, in_c, k, _ = weight.shape
    if c != in_c:
        raise ValueError(f"input has {c} channels, the convolution expects {in_c}")
    padded = _pad(x.data, padding, 0.0)
    windows = _windows(padded, k, stride)
    out_h, out_w = windows.shape[2:4]
    # Columns laid out (N, C*k*k, Ho*Wo) so the product with W (O, C*k*k) lands directly in NCHW.
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * k * k, out_h * out_w)
    w2d = weight.data.reshape(out_c, -1)
    out = np.matmul(w2d, cols)  # (N, O, Ho*Wo)
    if bias is not None:
        out += bias.data[:, None]
    out = out.reshape(n, out_c, out_h, out_w)

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        g3 = g.reshape(n, out_c, out_h * out_w)
        dweight = np.tensordot(g3, cols, axes=([0, 2], [0, 2])).reshape(weight.shape)
        dx = None
        if x.requires_grad:  # the first layer's input never does: skip the costliest part
            dcols = np.matmul(w2d.T, g3).reshape(n, c, k, k, out_h, out_w)
            dx = _col2im(dcols, padded.shape, stride, padding)
        if bias is None:
            return dx, dweight
        return dx, dweight, g.sum(axis=(0, 2, 3))

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor.from_op(out, parents, Conv2dBackward(backward))


def max_pool2d(x: Tensor, kernel: int, stride: int, padding: int = 0) -> Tensor:
    """Max over each window; the gradient goes to the (first) arg-max of its window only."""
    x = _as_4d(x)
    padded = _pad(x.data, padding, -np.inf)
    windows = _windows(padded, kernel, stride)
    n, c, out_h, out_w = windows.shape[:4]
    flat = windows.reshape(n, c, out_h, out_w, kernel * kernel)
    winner = flat.argmax(axis=-1)[..., None]
    out = np.take_along_axis(flat, winner, axis=-1)[..., 0]

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        dflat = np.zeros(flat.shape, dtype=FLOAT)
        np.put_along_axis(dflat, winner, g[..., None], axis=-1)
        dwin = dflat.reshape(n, c, out_h, out_w, kernel, kernel).transpose(0, 1, 4, 5, 2, 3)
        return (_col2im(dwin, padded.shape, stride, padding),)

    return Tensor.from_op(out, (x,), MaxPool2dBackward(backward))


def avg_pool2d(x: Tensor, kernel: int, stride: int, padding: int = 0) -> Tensor:
    """Mean over each window; zero padding counts in the mean (PyTorch's count_include_pad=True)."""
    x = _as_4d(x)
    padded = _pad(x.data, padding, 0.0)
    windows = _windows(padded, kernel, stride)
    n, c, out_h, out_w = windows.shape[:4]
    out = windows.mean(axis=(4, 5), dtype=FLOAT)
    share = FLOAT(1.0 / (kernel * kernel))

    def backward(g: np.ndarray) -> tuple[np.ndarray]:
        # Every position of a window receives the same share, so the window gradient is a broadcast view.
        dwin = np.broadcast_to((g * share)[:, :, None, None], (n, c, kernel, kernel, out_h, out_w))
        return (_col2im(dwin, padded.shape, stride, padding),)

    return Tensor.from_op(out, (x,), AvgPool2dBackward(backward))


class Conv2d(Layer):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True) -> None:
        if isinstance(kernel_size, (tuple, list)):
            if len(set(kernel_size)) != 1:
                raise ValueError("only square kernels are supported")
            kernel_size = kernel_size[0]
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.padding = int(padding)
        fan_in = in_channels * self.kernel_size * self.kernel_size
        # He initialisation: convolutions are almost always followed by ReLU.
        shape = (out_channels, in_channels, self.kernel_size, self.kernel_size)
        weight = np.random.randn(*shape) * np.sqrt(2.0 / fan_in)
        self.weight = Tensor(weight.astype(FLOAT), requires_grad=True)
        self.bias = Tensor(np.zeros(out_channels, dtype=FLOAT), requires_grad=True) if bias else None

    def forward(self, x: Any) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def parameters(self) -> list[Tensor]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})")


class _Pool2d(Layer):
    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        self.kernel_size = int(kernel_size)
        self.stride = self.kernel_size if stride is None else int(stride)
        self.padding = int(padding)

    def parameters(self) -> list[Tensor]:
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride}, " \
               f"padding={self.padding})"


class MaxPool2d(_Pool2d):
    def forward(self, x: Any) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    def forward(self, x: Any) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)
