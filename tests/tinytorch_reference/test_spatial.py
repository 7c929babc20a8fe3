"""Conv2d and pooling of the reference against naive float64 loops, forward and gradients."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_gradients

from tinytorch_reference.tinytorch.core.activations import ReLU
from tinytorch_reference.tinytorch.core.layers import Linear
from tinytorch_reference.tinytorch.core.losses import CrossEntropyLoss
from tinytorch_reference.tinytorch.core.spatial import (
    AvgPool2d,
    Conv2d,
    MaxPool2d,
    avg_pool2d,
    conv2d,
    max_pool2d,
)
from tinytorch_reference.tinytorch.core.tensor import Tensor


def pad64(x: np.ndarray, padding: int, value: float) -> np.ndarray:
    width = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    return np.pad(np.asarray(x, dtype=np.float64), width, constant_values=value)


def naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, padding: int) -> np.ndarray:
    xp = pad64(x, padding, 0.0)
    n, _, height, width = xp.shape
    out_c, _, k, _ = w.shape
    out_h, out_w = (height - k) // stride + 1, (width - k) // stride + 1
    out = np.zeros((n, out_c, out_h, out_w))
    for i in range(n):
        for o in range(out_c):
            for r in range(out_h):
                for c in range(out_w):
                    patch = xp[i, :, r * stride:r * stride + k, c * stride:c * stride + k]
                    out[i, o, r, c] = np.sum(patch * w[o]) + (0.0 if b is None else b[o])
    return out


def naive_pool(x: np.ndarray, k: int, stride: int, padding: int, reduce: str) -> np.ndarray:
    xp = pad64(x, padding, -np.inf if reduce == "max" else 0.0)
    n, ch, height, width = xp.shape
    out_h, out_w = (height - k) // stride + 1, (width - k) // stride + 1
    out = np.zeros((n, ch, out_h, out_w))
    for r in range(out_h):
        for c in range(out_w):
            window = xp[:, :, r * stride:r * stride + k, c * stride:c * stride + k]
            out[:, :, r, c] = window.max(axis=(2, 3)) if reduce == "max" else window.mean(axis=(2, 3))
    return out


def distinct(shape: tuple[int, ...], seed: int) -> Tensor:
    """Values 0.1 apart in random order: no ties, so finite differences never flip a max."""
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0
    return Tensor(values, requires_grad=True)


CONV_CASES = [  # (kernel, stride, padding, height, width)
    (3, 1, 0, 6, 6),
    (3, 2, 1, 7, 6),
    (1, 1, 0, 4, 5),
    (2, 3, 0, 8, 7),
    (5, 1, 2, 5, 5),
    (3, 2, 2, 5, 6),
]


@pytest.mark.parametrize(("k", "stride", "padding", "height", "width"), CONV_CASES)
def test_conv2d_forward_matches_naive_loop(k: int, stride: int, padding: int, height: int, width: int) -> None:
    rng = np.random.default_rng(k * 100 + stride * 10 + padding)
    conv = Conv2d(3, 4, k, stride=stride, padding=padding)
    conv.bias.data = rng.normal(size=4).astype(np.float32)
    x = rng.normal(size=(2, 3, height, width)).astype(np.float32)
    out = conv(Tensor(x))
    expected = naive_conv(x, conv.weight.data, conv.bias.data, stride, padding)
    assert out.shape == expected.shape
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("k", "stride", "padding", "height", "width"), CONV_CASES)
def test_conv2d_gradients(k: int, stride: int, padding: int, height: int, width: int) -> None:
    rng = np.random.default_rng(7)
    x = Tensor(rng.normal(size=(2, 2, height, width)), requires_grad=True)
    w = Tensor(rng.normal(size=(3, 2, k, k)) * 0.5, requires_grad=True)
    b = Tensor(rng.normal(size=3), requires_grad=True)
    # Convolution is linear in each input, so central differences are exact for any step: a large one
    # keeps float32 rounding of the summed output out of the comparison.
    check_gradients(lambda x, w, b: conv2d(x, w, b, stride, padding), [x, w, b], eps=0.05)


def test_conv2d_without_bias_and_with_frozen_input() -> None:
    rng = np.random.default_rng(3)
    conv = Conv2d(2, 3, 3, padding=1, bias=False)
    assert conv.bias is None and conv.parameters() == [conv.weight]
    x = rng.normal(size=(1, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(conv(x).data, naive_conv(x, conv.weight.data, None, 1, 1), rtol=1e-4,
                               atol=1e-5)
    check_gradients(lambda w: conv2d(Tensor(x), w, None, 1, 1),
                    [Tensor(rng.normal(size=(3, 2, 3, 3)), requires_grad=True)], eps=0.05)


def test_conv2d_layer_contract() -> None:
    conv = Conv2d(3, 8, 5, stride=2, padding=1)
    assert conv.weight.shape == (8, 3, 5, 5) and conv.bias.shape == (8,)
    assert conv.weight.requires_grad and conv.bias.requires_grad
    assert conv.parameters() == [conv.weight, conv.bias]
    assert conv.weight.dtype == np.float32
    assert conv(np.zeros((4, 3, 11, 11))).shape == (4, 8, 5, 5)
    with pytest.raises(ValueError, match="channels"):
        conv(np.zeros((1, 2, 11, 11)))
    with pytest.raises(ValueError, match="4 dimensions"):
        conv(np.zeros((3, 11, 11)))


POOL_CASES = [  # (kernel, stride, padding, height, width)
    (2, None, 0, 6, 6),
    (2, None, 0, 7, 5),
    (3, 1, 1, 5, 5),
    (3, 2, 1, 7, 6),
    (2, 1, 0, 4, 5),
]


@pytest.mark.parametrize(("k", "stride", "padding", "height", "width"), POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_forward_matches_naive_loop(kind: str, k: int, stride: int | None, padding: int, height: int,
                                         width: int) -> None:
    pool = (MaxPool2d if kind == "max" else AvgPool2d)(k, stride=stride, padding=padding)
    assert pool.stride == (k if stride is None else stride)
    assert pool.parameters() == []
    x = np.random.default_rng(k).normal(size=(2, 3, height, width)).astype(np.float32)
    expected = naive_pool(x, k, pool.stride, padding, kind)
    out = pool(Tensor(x))
    assert out.shape == expected.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("k", "stride", "padding", "height", "width"), POOL_CASES)
def test_pool_gradients(k: int, stride: int | None, padding: int, height: int, width: int) -> None:
    s = k if stride is None else stride
    # Values are 0.1 apart, so a 0.01 step never changes which element wins a window.
    check_gradients(lambda x: max_pool2d(x, k, s, padding), [distinct((2, 2, height, width), seed=k)], eps=0.01)
    check_gradients(lambda x: avg_pool2d(x, k, s, padding), [distinct((2, 2, height, width), seed=k)], eps=0.01)


def test_max_pool_routes_the_gradient_to_the_argmax_only() -> None:
    x = Tensor(np.array([[[[1.0, 5.0, 2.0, 0.0],
                           [3.0, 4.0, 9.0, 8.0],
                           [0.0, 0.0, 1.0, 1.5],
                           [7.0, 0.0, 1.0, 1.0]]]]), requires_grad=True)
    out = MaxPool2d(2)(x)
    np.testing.assert_array_equal(out.data, [[[[5.0, 9.0], [7.0, 1.5]]]])
    (out * Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))).sum().backward()
    expected = np.zeros((1, 1, 4, 4), dtype=np.float32)
    expected[0, 0, 0, 1], expected[0, 0, 1, 2], expected[0, 0, 3, 0], expected[0, 0, 2, 3] = 1, 2, 3, 4
    np.testing.assert_array_equal(x.grad, expected)


def test_small_cnn_sends_gradients_to_both_convolutions() -> None:
    rng = np.random.default_rng(0)
    c1, c2, fc = Conv2d(1, 4, 3), Conv2d(4, 8, 3), Linear(8 * 5 * 5, 10)
    pool, relu = MaxPool2d(2), ReLU()
    x = Tensor(rng.normal(size=(4, 1, 28, 28)))
    h = pool(relu(c2(pool(relu(c1(x))))))
    loss = CrossEntropyLoss()(fc(h.reshape(4, -1)), np.array([0, 1, 2, 3]))
    loss.backward()
    for p in c1.parameters() + c2.parameters() + fc.parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.dtype == np.float32
        assert np.abs(p.grad).sum() > 0
    assert x.grad is None  # an input that does not ask for a gradient does not get one
