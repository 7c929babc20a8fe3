"""Every autograd primitive of the reference Tensor against finite differences, plus graph semantics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from gradcheck import check_gradients

from tinytorch_reference.tinytorch.core.tensor import Tensor, concatenate, no_grad


def leaf(shape: tuple[int, ...], low: float = -2.0, high: float = 2.0, seed: int = 0) -> Tensor:
    data = np.random.default_rng(seed).uniform(low, high, shape)
    return Tensor(data, requires_grad=True)


def away_from_zero(shape: tuple[int, ...], seed: int = 0) -> Tensor:
    """Values with |x| in [0.2, 2]: safe for relu's kink and for finite differences of size 1e-3."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return Tensor(data, requires_grad=True)


def distinct(shape: tuple[int, ...], seed: int = 0) -> Tensor:
    """All values distinct and at least 0.1 apart, so max has a unique winner under perturbation."""
    size = int(np.prod(shape))
    data = np.random.default_rng(seed).permutation(np.linspace(-2.0, 2.0, size)).reshape(shape)
    return Tensor(data, requires_grad=True)


# ---------------------------------------------------------------------------------------- binary ops
BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((1, 4), (2, 3, 4)),
    ((3, 4), ()),
    ((), (3, 4)),
]
BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize(("shape_a", "shape_b"), BROADCAST_SHAPES)
def test_binary_ops_with_broadcasting(name: str, shape_a: tuple, shape_b: tuple) -> None:
    a = leaf(shape_a, seed=1)
    b = leaf(shape_b, low=0.5, high=2.0, seed=2) if name == "div" else leaf(shape_b, seed=2)
    check_gradients(BINARY[name], [a, b])


def test_same_tensor_on_both_sides() -> None:
    x = leaf((3,), seed=3)
    check_gradients(lambda a: a * a - a / (a * a + 1.0), [x])


@pytest.mark.parametrize("number", [2.5, np.float32(2.5), np.float64(2.5), 3])
def test_number_on_the_right(number: float) -> None:
    x = leaf((2, 3), low=0.5, high=2.0, seed=4)
    check_gradients(lambda a: (a + number) * number - a / number, [x])


def test_number_on_the_left() -> None:
    x = leaf((2, 3), low=0.5, high=2.0, seed=5)
    check_gradients(lambda a: 2.0 + a, [x])
    check_gradients(lambda a: 2.0 - a, [x])
    check_gradients(lambda a: 2.0 * a, [x])
    check_gradients(lambda a: 2.0 / a, [x])
    check_gradients(lambda a: np.float32(3.0) * a, [x])
    out = 1.0 - Tensor([1.0, 2.0])
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.data, [0.0, -1.0])


def test_neg() -> None:
    check_gradients(lambda a: -a, [leaf((3, 2), seed=6)])


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.0, 1.5])
def test_pow(exponent: float) -> None:
    check_gradients(lambda a: a**exponent, [leaf((3, 2), low=0.5, high=2.0, seed=7)])


# -------------------------------------------------------------------------------------------- matmul
@pytest.mark.parametrize(("shape_a", "shape_b"), [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4,)),
])
def test_matmul(shape_a: tuple, shape_b: tuple) -> None:
    a, b = leaf(shape_a, seed=8), leaf(shape_b, seed=9)
    expected = np.matmul(a.data, b.data)
    assert (a @ b).shape == expected.shape
    np.testing.assert_allclose((a @ b).data, expected, rtol=1e-6)
    check_gradients(lambda x, y: x.matmul(y), [a, b])


def test_matmul_gives_gradient_only_where_asked() -> None:
    x = Tensor(np.ones((2, 3)))
    w = leaf((3, 4), seed=10)
    (x @ w).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad, np.full((3, 4), 2.0))


# --------------------------------------------------------------------------------------- elementwise
ELEMENTWISE: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[tuple], Tensor]]] = {
    "exp": (Tensor.exp, leaf),
    "log": (Tensor.log, lambda s: leaf(s, low=0.2, high=3.0)),
    "sqrt": (Tensor.sqrt, lambda s: leaf(s, low=0.2, high=3.0)),
    "relu": (Tensor.relu, away_from_zero),
    "sigmoid": (Tensor.sigmoid, lambda s: leaf(s, low=-4.0, high=4.0)),
    "tanh": (Tensor.tanh, leaf),
    "gelu": (Tensor.gelu, lambda s: leaf(s, low=-3.0, high=3.0)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise(name: str) -> None:
    op, make = ELEMENTWISE[name]
    check_gradients(op, [make((3, 4))])


def test_elementwise_values() -> None:
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], dtype=np.float32)
    t = Tensor(x)
    np.testing.assert_allclose(t.relu().data, np.maximum(x, 0))
    np.testing.assert_allclose(t.sigmoid().data, 1 / (1 + np.exp(-x.astype(np.float64))), rtol=1e-6)
    np.testing.assert_allclose(t.tanh().data, np.tanh(x), rtol=1e-6)
    gelu = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(t.gelu().data, gelu, rtol=1e-5, atol=1e-7)


def test_sigmoid_is_finite_for_huge_inputs() -> None:
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        out = Tensor([-1e4, 0.0, 1e4], requires_grad=True)
        s = out.sigmoid()
        s.sum().backward()
    np.testing.assert_allclose(s.data, [0.0, 0.5, 1.0])
    assert np.all(np.isfinite(out.grad))


# ---------------------------------------------------------------------------------------- reductions
AXES = [None, 0, 1, -1, (0, 2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reductions(name: str, axis: int | tuple | None, keepdims: bool) -> None:
    x = distinct((2, 3, 4), seed=11)
    out = getattr(x, name)(axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(x.data, axis=axis, keepdims=keepdims)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    check_gradients(lambda a: getattr(a, name)(axis=axis, keepdims=keepdims), [x])


def test_max_ties_share_the_gradient() -> None:
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    assert x.grad.dtype == np.float32


# ----------------------------------------------------------------------------------------- structure
@pytest.mark.parametrize("fn", [
    lambda a: a.reshape(6, 4),
    lambda a: a.reshape((4, -1)),
    lambda a: a.reshape(-1),
    lambda a: a.transpose(),
    lambda a: a.transpose(0, 2),
    lambda a: a.T,
    lambda a: a.permute(2, 0, 1),
    lambda a: a.permute((1, 2, 0)),
], ids=["reshape", "reshape-1", "flatten", "transpose-last", "transpose-0-2", "T", "permute",
        "permute-tuple"])
def test_structure_ops(fn: Callable[[Tensor], Tensor]) -> None:
    check_gradients(fn, [leaf((2, 3, 4), seed=12)])


def test_structure_values() -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = Tensor(x)
    np.testing.assert_array_equal(t.transpose().data, np.swapaxes(x, -1, -2))
    np.testing.assert_array_equal(t.transpose(0, 1).data, np.swapaxes(x, 0, 1))
    np.testing.assert_array_equal(t.permute(2, 0, 1).data, np.transpose(x, (2, 0, 1)))
    np.testing.assert_array_equal(t.reshape(4, -1).data, x.reshape(4, -1))


@pytest.mark.parametrize("key", [
    1,
    -1,
    (slice(None), 2),
    (slice(0, 2), slice(None, None, 2)),
    (Ellipsis, slice(None, None, -1)),
    (0, slice(1, 3), 3),
    [1, 0, 1, 1],
    (np.array([0, 1, 1, 0]), np.array([2, 2, 0, 2])),
    (slice(None), [2, 0, 2]),
    np.array([[1, 0], [1, 1]]),
], ids=["int", "negative", "column", "slices", "ellipsis-reversed", "mixed-basic", "fancy-repeated",
        "fancy-pairs-repeated", "slice-and-fancy", "fancy-2d"])
def test_getitem(key: object) -> None:
    x = leaf((2, 3, 4), seed=13)
    np.testing.assert_array_equal(x[key].data, x.data[key])
    check_gradients(lambda a: a[key], [x])


def test_getitem_with_a_tensor_index_repeats_add_up() -> None:
    x = Tensor(np.arange(5.0), requires_grad=True)
    picked = x[Tensor([1, 1, 4, 1])]
    np.testing.assert_array_equal(picked.data, [1.0, 1.0, 4.0, 1.0])
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 3.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate(axis: int) -> None:
    shapes = {0: [(1, 3), (2, 3), (3, 3)], 1: [(2, 1), (2, 3), (2, 2)], -1: [(2, 1), (2, 3), (2, 2)]}[axis]
    tensors = [leaf(shape, seed=20 + i) for i, shape in enumerate(shapes)]
    out = concatenate(tensors, axis=axis)
    np.testing.assert_array_equal(out.data, np.concatenate([t.data for t in tensors], axis=axis))
    check_gradients(lambda *ts: concatenate(list(ts), axis=axis), tensors)


# ------------------------------------------------------------------------------------ graph semantics
def test_w_times_w_plus_w() -> None:
    w = Tensor(3.0, requires_grad=True)
    y = w * w + w
    assert y.data == pytest.approx(12.0)
    y.backward()
    assert float(np.asarray(w.grad)) == pytest.approx(7.0)


def test_shared_parameter_gets_the_sum_of_both_uses() -> None:
    w = leaf((3, 2), seed=30)
    x1, x2 = Tensor(np.ones((4, 3))), Tensor(np.full((4, 3), 2.0))
    ((x1 @ w).sum() + (x2 @ w).sum()).backward()
    np.testing.assert_allclose(w.grad, np.full((3, 2), 4.0 + 8.0))


def test_two_losses_sharing_a_subgraph_backpropagated_separately() -> None:
    w = leaf((3,), seed=31)
    shared = w * w  # d/dw = 2w
    loss_a = shared.sum()
    loss_b = (shared * shared).sum()  # d/dw = 4w^3
    loss_a.backward()
    np.testing.assert_allclose(w.grad, 2 * w.data, rtol=1e-6)
    w.grad = None
    loss_b.backward()
    np.testing.assert_allclose(w.grad, 4 * w.data**3, rtol=1e-5)
    loss_a.backward()  # without zeroing, gradients accumulate
    np.testing.assert_allclose(w.grad, 4 * w.data**3 + 2 * w.data, rtol=1e-5)


def test_float32_is_preserved_everywhere() -> None:
    x = Tensor(np.arange(6, dtype=np.int64).reshape(2, 3) + 1, requires_grad=True)
    assert x.dtype == np.float32
    w = Tensor(np.ones((3, 2), dtype=np.float64), requires_grad=True)
    assert w.dtype == np.float32
    out = (x @ w) * np.float64(0.5) + np.float64(1.0)
    out = (out**np.float64(2.0)).max(axis=1).mean() / 3
    assert out.dtype == np.float32
    out.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_intermediate_gradients_stay_float32() -> None:
    seen: list[np.dtype] = []
    x = Tensor([[1.0, 2.0], [3.0, 3.0]], requires_grad=True)
    y = x.max(axis=1)
    spy = Tensor.from_op(y.data, (y,), lambda g: seen.append(g.dtype) or (g,))
    (spy.mean() * np.float64(2.0) + (y**np.float64(2.0)).sum()).backward()
    assert seen == [np.float32]
    assert x.grad.dtype == np.float32


def test_deep_chain_does_not_hit_the_recursion_limit() -> None:
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert float(np.asarray(x.grad)) == pytest.approx(1.0001**3000, rel=1e-3)
    del y  # freeing a 6000-node graph must not overflow the C stack either


def test_no_grad_builds_no_graph() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = (w * w).sum()
    assert not y.requires_grad
    y.backward()  # a leaf: nothing flows back to w
    assert w.grad is None


def test_backward_on_a_non_scalar_needs_a_gradient() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        (w * 2.0).backward()
    (w * 2.0).backward(np.array([1.0, 3.0]))
    np.testing.assert_allclose(w.grad, [2.0, 6.0])
