"""Activations, layers and losses of the reference: values against float64 numpy, gradients against
finite differences, and numerical stability at logits of magnitude 1e4."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_gradients

from tinytorch_reference.tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh, softmax
from tinytorch_reference.tinytorch.core.layers import Dropout, Layer, Linear, Sequential
from tinytorch_reference.tinytorch.core.losses import (
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    MSELoss,
    log_softmax,
)
from tinytorch_reference.tinytorch.core.tensor import Tensor

HUGE_LOGITS = np.array([[1e4, -1e4, 0.0, 9990.0], [-1e4, -1e4 + 5.0, -1e4 + 1.0, -9999.0]])


def leaf(shape: tuple[int, ...], low: float = -2.0, high: float = 2.0, seed: int = 0) -> Tensor:
    return Tensor(np.random.default_rng(seed).uniform(low, high, shape), requires_grad=True)


def log_softmax64(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------------------- activations
@pytest.mark.parametrize("activation", [Sigmoid(), Tanh(), GELU(), Softmax(), Softmax(dim=0)],
                         ids=["sigmoid", "tanh", "gelu", "softmax", "softmax-dim0"])
def test_activation_gradients(activation: object) -> None:
    check_gradients(activation, [leaf((3, 4), seed=1)])


def test_relu_gradient_away_from_the_kink() -> None:
    rng = np.random.default_rng(2)
    x = Tensor(rng.uniform(0.2, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4)), requires_grad=True)
    check_gradients(ReLU(), [x])


def test_softmax_forward_takes_dim() -> None:
    x = leaf((3, 4), seed=3)
    np.testing.assert_allclose(Softmax().forward(x, dim=0).data, np.exp(log_softmax64(x.data, 0)), rtol=1e-5)
    np.testing.assert_allclose(Softmax()(x).data, np.exp(log_softmax64(x.data, -1)), rtol=1e-5)
    check_gradients(lambda a: Softmax().forward(a, dim=0), [x])


def test_softmax_and_log_softmax_are_stable_at_huge_logits() -> None:
    logits = Tensor(HUGE_LOGITS, requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        probabilities = softmax(logits)
        log_probabilities = log_softmax(logits)
        (probabilities * Tensor([[1.0, 2.0, 3.0, 4.0]])).sum().backward()
    expected = log_softmax64(HUGE_LOGITS)
    # atol: log(1 + 4.5e-5) summed in float32 is only good to ~1e-7 absolute.
    np.testing.assert_allclose(log_probabilities.data, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(probabilities.data, np.exp(expected), rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(probabilities.data.sum(axis=-1), 1.0, rtol=1e-6)
    assert np.all(np.isfinite(logits.grad))


def test_log_softmax_gradient() -> None:
    check_gradients(lambda a: log_softmax(a, dim=-1), [leaf((3, 5), seed=4)])
    check_gradients(lambda a: log_softmax(a, dim=0), [leaf((3, 5), seed=5)])


# ------------------------------------------------------------------------------------------- layers
def test_linear_layout_and_initialisation() -> None:
    np.random.seed(0)
    layer = Linear(300, 200)
    assert layer.weight.shape == (300, 200) and layer.bias.shape == (200,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert layer.weight.requires_grad and layer.bias.requires_grad
    assert layer.parameters() == [layer.weight, layer.bias]
    assert 0.5 / np.sqrt(300) < layer.weight.data.std() < 2.0 / np.sqrt(300)
    no_bias = Linear(3, 2, bias=False)
    assert no_bias.bias is None and no_bias.parameters() == [no_bias.weight]


def test_linear_forward_and_gradients() -> None:
    layer = Linear(4, 3)
    layer.bias.data = np.random.default_rng(6).normal(size=3).astype(np.float32)
    x = leaf((5, 4), seed=7)
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data + layer.bias.data, rtol=1e-5)
    check_gradients(lambda a, w, b: layer(a), [x, layer.weight, layer.bias])
    no_bias = Linear(4, 3, bias=False)
    check_gradients(lambda a, w: no_bias(a), [x, no_bias.weight])


def test_linear_accepts_a_batch_of_sequences() -> None:
    layer = Linear(4, 3)
    x = leaf((2, 5, 4), seed=8)
    assert layer(x).shape == (2, 5, 3)
    check_gradients(lambda a, w, b: layer(a), [x, layer.weight, layer.bias])


def test_dropout() -> None:
    x = Tensor(np.ones((200, 100)), requires_grad=True)
    assert np.array_equal(Dropout(0.5).forward(x, training=False).data, x.data)
    assert np.array_equal(Dropout(0.0).forward(x).data, x.data)
    np.random.seed(1)
    out = Dropout(0.3).forward(x, training=True)
    kept = out.data != 0
    assert 0.67 < kept.mean() < 0.73
    np.testing.assert_allclose(out.data[kept], 1 / 0.7, rtol=1e-6)  # inverted: survivors scaled up
    out.sum().backward()
    np.testing.assert_allclose(x.grad, out.data)  # the gradient is the same mask
    assert not np.any(Dropout(1.0).forward(x).data)
    with pytest.raises(ValueError):
        Dropout(1.5)


def test_sequential_and_train_eval_modes() -> None:
    np.random.seed(2)
    model = Sequential(Linear(4, 8), ReLU(), Dropout(0.5), Linear(8, 2))
    assert len(model.layers) == 4
    assert model.parameters() == model.layers[0].parameters() + model.layers[3].parameters()
    x = Tensor(np.random.default_rng(9).normal(size=(16, 4)))
    model.eval()
    assert not model.layers[2].training
    first, second = model(x).data, model(x).data
    np.testing.assert_array_equal(first, second)  # no dropout in eval mode
    expected = np.maximum(x.data @ model.layers[0].weight.data + model.layers[0].bias.data, 0)
    expected = expected @ model.layers[3].weight.data + model.layers[3].bias.data
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-6)
    model.train()
    assert model.layers[2].training
    assert Sequential([Linear(2, 2), ReLU()]).layers[1].__class__ is ReLU


def test_layer_collects_parameters_of_attributes_and_sublayers() -> None:
    class TwoLayer(Layer):
        def __init__(self) -> None:
            self.hidden = Linear(2, 3)
            self.heads = [Linear(3, 1), Linear(3, 1)]
            self.scale = Tensor(np.ones(1), requires_grad=True)
            self.constant = Tensor(np.ones(1))
            self.shared = self.hidden

        def forward(self, x: Tensor) -> Tensor:
            h = self.hidden(x).relu()
            return (self.heads[0](h) + self.heads[1](h)) * self.scale

    model = TwoLayer()
    params = model.parameters()
    assert len(params) == 7 and len({id(p) for p in params}) == 7
    assert params[:2] == model.hidden.parameters() and params[-1] is model.scale
    model(Tensor(np.ones((4, 2)))).sum().backward()
    assert all(p.grad is not None for p in params)


# -------------------------------------------------------------------------------------------- losses
def test_mse_loss() -> None:
    predictions, targets = leaf((6, 2), seed=10), np.random.default_rng(11).normal(size=(6, 2))
    loss = MSELoss()(predictions, Tensor(targets))
    assert loss.shape == ()
    assert loss.item() == pytest.approx(np.mean((predictions.data - targets) ** 2), rel=1e-6)
    check_gradients(lambda p: MSELoss()(p, Tensor(targets)), [predictions])


def test_mse_loss_does_not_broadcast_a_column_against_a_vector() -> None:
    predictions = Tensor([[1.0], [2.0], [3.0]])
    assert MSELoss()(predictions, Tensor([1.0, 2.0, 5.0])).item() == pytest.approx(4.0 / 3.0)


@pytest.mark.parametrize("as_type", [Tensor, np.asarray, list], ids=["tensor", "ndarray", "list"])
def test_cross_entropy_value_and_gradient(as_type: type) -> None:
    logits = leaf((5, 4), low=-3.0, high=3.0, seed=12)
    labels = [0, 3, 3, 1, 2]
    targets = as_type(labels)
    loss = CrossEntropyLoss()(logits, targets)
    assert loss.shape == ()
    expected = -log_softmax64(logits.data)[np.arange(5), labels].mean()
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    check_gradients(lambda z: CrossEntropyLoss()(z, targets), [logits])


def test_cross_entropy_is_stable_at_huge_logits() -> None:
    logits = Tensor(HUGE_LOGITS, requires_grad=True)
    labels = np.array([1, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = CrossEntropyLoss()(logits, labels)
        loss.backward()
    expected = -log_softmax64(HUGE_LOGITS)[np.arange(2), labels].mean()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(expected, rel=1e-6)
    softmax64 = np.exp(log_softmax64(HUGE_LOGITS))
    expected_grad = (softmax64 - np.eye(4)[labels]) / 2
    np.testing.assert_allclose(logits.grad, expected_grad, atol=1e-6)


def test_cross_entropy_on_sequence_logits() -> None:
    logits = leaf((2, 3, 4), seed=13)
    labels = np.array([[0, 1, 2], [3, 3, 0]])
    loss = CrossEntropyLoss()(logits, labels)
    expected = -log_softmax64(logits.data.reshape(6, 4))[np.arange(6), labels.reshape(-1)].mean()
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_binary_cross_entropy_value_and_gradient() -> None:
    probabilities = leaf((6, 1), low=0.05, high=0.95, seed=14)
    targets = np.array([[0.0], [1.0], [1.0], [0.0], [1.0], [0.0]])
    loss = BinaryCrossEntropyLoss()(probabilities, Tensor(targets))
    p = probabilities.data.astype(np.float64)
    expected = -np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    assert loss.shape == () and loss.item() == pytest.approx(expected, rel=1e-5)
    check_gradients(lambda q: BinaryCrossEntropyLoss()(q, Tensor(targets)), [probabilities])
    flat_targets = BinaryCrossEntropyLoss()(probabilities, targets.reshape(-1))
    assert flat_targets.item() == pytest.approx(expected, rel=1e-5)


def test_binary_cross_entropy_clips_saturated_probabilities_but_still_learns() -> None:
    probabilities = Tensor([0.0, 1.0, 1.0, 0.0], requires_grad=True)
    targets = Tensor([1.0, 0.0, 1.0, 0.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = BinaryCrossEntropyLoss()(probabilities, targets)
        loss.backward()
    assert np.isfinite(loss.item()) and 5.0 < loss.item() < 10.0  # two of four maximally wrong: ~16/2
    grad = probabilities.grad
    assert np.all(np.isfinite(grad))
    assert grad[0] < 0 and grad[1] > 0  # the wrong predictions are pushed the right way
