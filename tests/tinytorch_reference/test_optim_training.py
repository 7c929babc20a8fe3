"""Optimizers against hand-written float64 update rules; the Trainer, schedule, clipping and DataLoader."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from tinytorch_reference.tinytorch.core.activations import ReLU, Sigmoid
from tinytorch_reference.tinytorch.core.dataloader import DataLoader, Dataset, TensorDataset
from tinytorch_reference.tinytorch.core.layers import Linear, Sequential
from tinytorch_reference.tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch_reference.tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch_reference.tinytorch.core.tensor import Tensor
from tinytorch_reference.tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm

STEPS = 6


def run_optimizer(make_optimizer, reference_update) -> None:
    """Drive the optimizer and a float64 re-implementation with the same gradients, step by step."""
    rng = np.random.default_rng(0)
    params = [Tensor(rng.normal(size=(3, 4)), requires_grad=True), Tensor(rng.normal(size=4), requires_grad=True)]
    expected = [p.data.astype(np.float64) for p in params]
    state: list[dict] = [{} for _ in params]
    optimizer = make_optimizer(params)
    for step in range(1, STEPS + 1):
        for i, p in enumerate(params):
            grad = rng.normal(size=p.shape).astype(np.float32)
            p.grad = grad.copy()
            expected[i] = reference_update(expected[i], grad.astype(np.float64), state[i], step)
        optimizer.step()
        assert optimizer.t == step
        for p, want in zip(params, expected, strict=True):
            assert p.data.dtype == np.float32
            np.testing.assert_allclose(p.data, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("momentum", "decay"), [(0.0, 0.0), (0.9, 0.0), (0.0, 0.1), (0.8, 0.05)])
def test_sgd(momentum: float, decay: float) -> None:
    lr = 0.1

    def update(p, g, state, step):
        g = g + decay * p
        if momentum:
            state["v"] = momentum * state.get("v", 0.0) + g
            g = state["v"]
        return p - lr * g

    run_optimizer(lambda ps: SGD(ps, lr=lr, momentum=momentum, weight_decay=decay), update)


def adam_reference(lr, b1, b2, eps, l2=0.0, decoupled=0.0):
    def update(p, g, state, step):
        p = p * (1 - lr * decoupled)
        g = g + l2 * p
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        m_hat = state["m"] / (1 - b1**step)
        v_hat = state["v"] / (1 - b2**step)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)

    return update


@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_adam(decay: float) -> None:
    run_optimizer(lambda ps: Adam(ps, lr=0.01, weight_decay=decay),
                  adam_reference(0.01, 0.9, 0.999, 1e-8, l2=decay))
    run_optimizer(lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=decay),
                  adam_reference(0.05, 0.8, 0.99, 1e-3, l2=decay))


def test_adamw() -> None:
    run_optimizer(lambda ps: AdamW(ps, lr=0.01), adam_reference(0.01, 0.9, 0.999, 1e-8, decoupled=0.01))
    run_optimizer(lambda ps: AdamW(ps, lr=0.05, weight_decay=0.2),
                  adam_reference(0.05, 0.9, 0.999, 1e-8, decoupled=0.2))


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), Adam, AdamW],
                         ids=["sgd", "adam", "adamw"])
def test_zero_grad_and_skipping_parameters_without_gradient(make) -> None:
    used, unused = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    optimizer = make([used, unused])
    snapshot = used.data
    (used * used).sum().backward()
    optimizer.step()
    assert unused.grad is None
    np.testing.assert_array_equal(unused.data, [3.0, 4.0])
    assert not np.allclose(used.data, [1.0, 2.0])
    np.testing.assert_array_equal(snapshot, [1.0, 2.0])  # step replaces .data; a held array is untouched
    optimizer.zero_grad()
    assert used.grad is None and unused.grad is None


# ------------------------------------------------------------------------------------------ training
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trainer_learns_xor(seed: int) -> None:
    np.random.seed(seed)
    model = Sequential(Linear(2, 8), ReLU(), Linear(8, 1), Sigmoid())
    trainer = Trainer(model, Adam(model.parameters(), lr=0.05), BinaryCrossEntropyLoss())
    loader = DataLoader(TensorDataset(Tensor(XOR_X), Tensor(XOR_Y)), batch_size=4)
    losses = [trainer.train_epoch(loader) for _ in range(1000)]
    loss, accuracy = trainer.evaluate(loader)
    assert accuracy == 1.0
    assert losses[-1] < 0.1 < losses[0] and loss == pytest.approx(losses[-1], abs=0.05)


def test_gradient_accumulation_equals_one_big_batch() -> None:
    rng = np.random.default_rng(3)
    x, y = Tensor(rng.normal(size=(32, 5))), Tensor(rng.integers(0, 3, size=32))
    np.random.seed(4)
    small = Sequential(Linear(5, 6), ReLU(), Linear(6, 3))
    big = copy.deepcopy(small)
    trainer_small = Trainer(small, SGD(small.parameters(), lr=0.5), CrossEntropyLoss())
    trainer_big = Trainer(big, SGD(big.parameters(), lr=0.5), CrossEntropyLoss())
    for _ in range(3):
        trainer_small.train_epoch(DataLoader(TensorDataset(x, y), batch_size=8), accumulation_steps=4)
        trainer_big.train_epoch(DataLoader(TensorDataset(x, y), batch_size=32))
    assert trainer_small.steps == trainer_big.steps == 3
    for a, b in zip(small.parameters(), big.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)


def test_accumulation_steps_at_the_end_of_an_uneven_epoch() -> None:
    model = Linear(2, 1)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    data = DataLoader(TensorDataset(Tensor(np.ones((5, 2))), Tensor(np.zeros((5, 1)))), batch_size=1)
    trainer.train_epoch(data, accumulation_steps=2)
    assert trainer.steps == 3  # after batches 2, 4 and the leftover 5th
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_accuracy_multiclass_and_binary() -> None:
    class Fixed:
        def __init__(self, outputs: np.ndarray) -> None:
            self.outputs = outputs

        def forward(self, x: Tensor) -> Tensor:
            return Tensor(self.outputs)

    multi = Fixed(np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [0.0, 5.0, 1.0], [1.0, 0.0, 0.0]]))
    loader = [(Tensor(np.zeros((4, 1))), Tensor([0, 2, 2, 0]))]
    assert Trainer(multi, None, CrossEntropyLoss()).evaluate(loader)[1] == pytest.approx(0.75)
    binary = Fixed(np.array([[0.9], [0.2], [0.6], [0.4]]))
    loader = [(Tensor(np.zeros((4, 1))), Tensor([[1.0], [0.0], [0.0], [0.0]]))]
    loss, accuracy = Trainer(binary, None, BinaryCrossEntropyLoss()).evaluate(loader)
    assert accuracy == pytest.approx(0.75)
    p, t = np.array([0.9, 0.2, 0.6, 0.4]), np.array([1.0, 0.0, 0.0, 0.0])
    assert loss == pytest.approx(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)), rel=1e-5)


def test_clip_grad_norm() -> None:
    a, b, c = (Tensor(np.zeros(2), requires_grad=True) for _ in range(3))
    a.grad, b.grad = np.array([3.0, 0.0], np.float32), np.array([0.0, 4.0], np.float32)
    total = clip_grad_norm([a, b, c], max_norm=1.0)
    assert isinstance(total, float) and total == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), [0.6, 0.0, 0.0, 0.8], rtol=1e-5)
    assert a.grad.dtype == np.float32 and c.grad is None
    assert clip_grad_norm([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), [0.6, 0.0, 0.0, 0.8], rtol=1e-5)


def test_trainer_clips_before_stepping() -> None:
    model = Linear(1, 1, bias=False)
    model.weight.data = np.array([[0.0]], np.float32)
    trainer = Trainer(model, SGD(model.parameters(), lr=1.0), MSELoss(), grad_clip_norm=0.5)
    trainer.train_epoch([(Tensor([[1.0]]), Tensor([[100.0]]))])
    assert model.weight.data[0, 0] == pytest.approx(0.5, rel=1e-5)


def test_cosine_schedule() -> None:
    schedule = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=100)
    assert schedule.get_lr(0) == pytest.approx(0.1)
    assert schedule.get_lr(50) == pytest.approx(0.055)
    assert schedule.get_lr(100) == pytest.approx(0.01)
    assert schedule.get_lr(150) == pytest.approx(0.01)
    lrs = [schedule.get_lr(e) for e in range(101)]
    assert all(x >= y for x, y in itertools.pairwise(lrs))


def test_trainer_sets_the_learning_rate_each_epoch() -> None:
    model = Linear(2, 1)
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=4)
    trainer = Trainer(model, optimizer, MSELoss(), scheduler=schedule)
    data = [(Tensor(np.ones((2, 2))), Tensor(np.zeros((2, 1))))]
    seen = []
    for _ in range(5):
        trainer.train_epoch(data)
        seen.append(optimizer.lr)
    assert seen == pytest.approx([schedule.get_lr(e) for e in range(5)])


# ---------------------------------------------------------------------------------------- dataloader
def test_dataloader_batches_in_order() -> None:
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    loader = DataLoader(TensorDataset(Tensor(x), Tensor(y)), batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert all(isinstance(t, Tensor) for b in batches for t in b) and all(len(b) == 2 for b in batches)
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), y)
    assert len(DataLoader(TensorDataset(Tensor(x)), batch_size=5)) == 2
    assert len(DataLoader(TensorDataset(Tensor(x)), batch_size=32)) == 1


def test_dataloader_shuffles_each_epoch_and_keeps_rows_aligned() -> None:
    x, y = np.arange(50.0).reshape(25, 2), np.arange(25.0)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    np.random.seed(5)
    orders = []
    for _ in range(2):
        batches = list(loader)
        seen_x = np.concatenate([b[0].data for b in batches])
        seen_y = np.concatenate([b[1].data for b in batches])
        np.testing.assert_array_equal(seen_x[:, 0], 2 * seen_y)  # features still match their labels
        orders.append(seen_y)
    assert sorted(orders[0]) == list(range(25))
    assert not np.array_equal(orders[0], np.arange(25)) and not np.array_equal(orders[0], orders[1])


def test_dataloader_over_a_plain_dataset() -> None:
    class Squares(Dataset):
        def __len__(self) -> int:
            return 5

        def __getitem__(self, index: int) -> tuple[Tensor, float]:
            return Tensor([index, index + 0.5]), float(index * index)

    batches = list(DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3
    np.testing.assert_array_equal(batches[0][0].data, [[0.0, 0.5], [1.0, 1.5]])
    np.testing.assert_array_equal(batches[2][1].data, [16.0])
    with pytest.raises(TypeError):
        Dataset()
    with pytest.raises(ValueError):
        TensorDataset(np.zeros(3), np.zeros(4))
