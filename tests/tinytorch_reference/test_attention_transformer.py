"""Attention and transformer pieces of the reference: values against float64 numpy, gradients, the causal
property, and KV-cached generation against full recomputation."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_gradients

from tinytorch_reference.tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch_reference.tinytorch.core.embeddings import Embedding, PositionalEncoding
from tinytorch_reference.tinytorch.core.losses import CrossEntropyLoss
from tinytorch_reference.tinytorch.core.optimizers import Adam
from tinytorch_reference.tinytorch.core.tensor import Tensor
from tinytorch_reference.tinytorch.core.transformer import (
    GPT,
    MLP,
    LayerNorm,
    TransformerBlock,
    create_causal_mask,
)
from tinytorch_reference.tinytorch.perf.memoization import KVCache


def attention64(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask == 0, -np.inf, scores)
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights


def randn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# -------------------------------------------------------------------------------------- attention
def test_attention_matches_float64_without_mask() -> None:
    q, k, v = randn(2, 3, 5, 4, seed=1), randn(2, 3, 7, 4, seed=2), randn(2, 3, 7, 6, seed=3)
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v))
    expected, expected_weights = attention64(q, k, v)
    assert out.shape == (2, 3, 5, 6) and weights.shape == (2, 3, 5, 7)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(weights.data, expected_weights, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mask_kind", ["causal-2d", "causal-1ss", "per-batch-bss", "padding-b11s"])
def test_attention_matches_float64_with_masks(mask_kind: str) -> None:
    batch, heads, seq, dim = 2, 3, 5, 4
    q, k, v = randn(batch, heads, seq, dim, seed=4), randn(batch, heads, seq, dim, seed=5), \
        randn(batch, heads, seq, dim, seed=6)
    causal = np.tril(np.ones((seq, seq)))
    padding = np.ones((batch, 1, 1, seq))
    padding[1, ..., 3:] = 0  # the second sequence has 3 real tokens
    mask, broadcast = {
        "causal-2d": (causal, causal),
        "causal-1ss": (causal[None], causal[None]),
        "per-batch-bss": (np.stack([causal, np.ones((seq, seq))]), np.stack([causal, np.ones((seq, seq))])[:, None]),
        "padding-b11s": (padding, padding),
    }[mask_kind]
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask=Tensor(mask))
    expected, expected_weights = attention64(q, k, v, broadcast)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(weights.data, expected_weights, rtol=1e-5, atol=1e-6)
    assert np.all(weights.data[np.broadcast_to(broadcast == 0, weights.shape)] < 1e-30)


def test_attention_gradients_with_a_mask() -> None:
    rng = np.random.default_rng(0)
    leaves = [Tensor(rng.normal(size=(2, 4, 3)), requires_grad=True) for _ in range(3)]
    mask = create_causal_mask(4)

    def attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        return out

    check_gradients(attend, leaves)


def mha64(mha: MultiHeadAttention, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    batch, seq, dim = x.shape
    heads, head_dim = mha.num_heads, mha.head_dim

    def project(linear: object, a: np.ndarray) -> np.ndarray:
        return a @ linear.weight.data.astype(np.float64) + linear.bias.data

    def split(a: np.ndarray) -> np.ndarray:
        return a.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)

    q, k, v = (split(project(p, x)) for p in (mha.q_proj, mha.k_proj, mha.v_proj))
    out, _ = attention64(q, k, v, mask)
    return project(mha.out_proj, out.transpose(0, 2, 1, 3).reshape(batch, seq, dim))


def test_multi_head_attention_matches_float64_and_has_8_parameters() -> None:
    mha = MultiHeadAttention(embed_dim=8, num_heads=2)
    params = mha.parameters()
    assert len(params) == 8 and all(p.requires_grad for p in params)
    assert [p.shape for p in params] == [(8, 8), (8,)] * 4
    for seed, linear in enumerate((mha.q_proj, mha.k_proj, mha.v_proj, mha.out_proj)):
        linear.bias.data = randn(8, seed=seed)  # non-zero biases, so a dropped bias shows
    x = randn(3, 5, 8, seed=9)
    mask = np.tril(np.ones((5, 5)))[None]
    np.testing.assert_allclose(mha(Tensor(x)).data, mha64(mha, x, None), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mha(Tensor(x), mask=create_causal_mask(5)).data, mha64(mha, x, mask),
                               rtol=1e-4, atol=1e-5)
    assert mha(Tensor(x[0])).shape == (5, 8)  # unbatched
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)


def test_all_mha_parameters_and_the_embedding_get_gradients_through_positional_encoding() -> None:
    emb, pe, mha = Embedding(30, 16), PositionalEncoding(12, 16), MultiHeadAttention(16, 4)
    out = mha(pe(emb(np.array([[1, 5, 7, 2], [3, 3, 9, 0]]))), mask=create_causal_mask(4))
    (out * out).mean().backward()
    for p in [emb.weight, pe.position_embeddings, *mha.parameters()]:
        assert p.grad is not None and p.grad.shape == p.shape and np.abs(p.grad).sum() > 0


def test_multi_head_attention_gradients() -> None:
    np.random.seed(0)
    mha = MultiHeadAttention(embed_dim=4, num_heads=2)
    x = Tensor(np.random.default_rng(1).normal(size=(2, 3, 4)), requires_grad=True)
    mask = create_causal_mask(3)
    check_gradients(lambda x, *params: mha(x, mask=mask), [x, *mha.parameters()])


def test_kv_cached_attention_equals_full_causal_attention() -> None:
    mha = MultiHeadAttention(embed_dim=8, num_heads=2)
    x = randn(2, 6, 8, seed=11)
    full = mha(Tensor(x), mask=create_causal_mask(6)).data
    cache = KVCache(batch_size=2, max_seq_len=6, num_layers=1, num_heads=2, head_dim=4)
    steps = []
    for t in range(6):
        steps.append(mha(Tensor(x[:, t:t + 1]), kv_cache=cache, layer_idx=0).data)
        cache.advance()
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------ transformer
def test_create_causal_mask() -> None:
    mask = create_causal_mask(4)
    assert isinstance(mask, Tensor) and mask.shape == (1, 4, 4)
    np.testing.assert_array_equal(mask.data[0], np.tril(np.ones((4, 4))))


def test_layer_norm_matches_float64_and_gradients() -> None:
    ln = LayerNorm(6)
    assert ln.parameters() == [ln.gamma, ln.beta]
    ln.gamma.data, ln.beta.data = randn(6, seed=1), randn(6, seed=2)
    x = randn(3, 4, 6, seed=3) * 3.0 + 2.0
    x64 = x.astype(np.float64)
    normed = (x64 - x64.mean(-1, keepdims=True)) / np.sqrt(x64.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(Tensor(x)).data, normed * ln.gamma.data + ln.beta.data, rtol=1e-4,
                               atol=1e-5)
    check_gradients(lambda x, g, b: ln(x), [Tensor(x[:2, :2], requires_grad=True), ln.gamma, ln.beta])
    two_axes = LayerNorm((4, 6))
    out = two_axes(Tensor(x)).data
    np.testing.assert_allclose(out.reshape(3, -1).mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.reshape(3, -1).std(-1), 1.0, atol=1e-3)


def test_mlp_and_block_shapes_and_parameters() -> None:
    mlp = MLP(8)
    assert mlp.hidden_dim == 32 and [p.shape for p in mlp.parameters()] == [(8, 32), (32,), (32, 8), (8,)]
    block = TransformerBlock(8, 2, mlp_ratio=2, dropout_prob=0.5)
    # ln1 (2) + attention (8) + ln2 (2) + mlp (4)
    assert len(block.parameters()) == 16 and block.mlp.hidden_dim == 16
    x = Tensor(randn(2, 5, 8, seed=4))
    block.eval()
    first, second = block(x, create_causal_mask(5)), block(x, create_causal_mask(5))
    assert first.shape == (2, 5, 8)
    np.testing.assert_array_equal(first.data, second.data)  # eval: dropout off
    block.train()
    assert not np.array_equal(block(x).data, block(x).data)  # training: dropout on


def test_transformer_block_is_pre_norm() -> None:
    block = TransformerBlock(8, 2, dropout_prob=0.0)
    x = randn(1, 3, 8, seed=5)
    # x + attn(ln1(x)), then + mlp(ln2(.)): the sublayers see normalised inputs, the residual does not.
    attn_in = block.ln1(Tensor(x)).data
    expected_after_attention = x + block.attention(Tensor(attn_in)).data
    h = Tensor(expected_after_attention)
    expected = expected_after_attention + block.mlp(block.ln2(h)).data
    np.testing.assert_allclose(block(Tensor(x)).data, expected, rtol=1e-5, atol=1e-5)


def make_gpt(seed: int = 0) -> GPT:
    np.random.seed(seed)
    model = GPT(vocab_size=17, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=32)
    model.eval()
    return model


def test_gpt_logits_shape_and_parameters() -> None:
    model = make_gpt()
    tokens = np.random.default_rng(0).integers(0, 17, (3, 7))
    assert model(tokens).shape == (3, 7, 17)
    assert model(Tensor(tokens)).shape == (3, 7, 17)
    assert model(tokens[0]).shape == (7, 17)
    # token + position embeddings, 2 blocks of 16 tensors, final norm (2), head (2)
    assert len(model.parameters()) == 2 + 2 * 16 + 2 + 2
    assert all(p.requires_grad for p in model.parameters())


def test_gpt_is_causal() -> None:
    model = make_gpt()
    tokens = np.random.default_rng(1).integers(0, 17, (2, 9))
    changed = tokens.copy()
    changed[:, 6:] = (changed[:, 6:] + 5) % 17
    before, after = model(tokens).data, model(changed).data
    np.testing.assert_allclose(before[:, :6], after[:, :6], rtol=1e-5, atol=1e-6)
    assert not np.allclose(before[:, 6:], after[:, 6:])


def test_kv_cache_generation_equals_full_recompute() -> None:
    model = make_gpt(seed=3)
    prompt = np.random.default_rng(2).integers(0, 17, (2, 4))
    cached = model.generate(prompt, max_new_tokens=10)
    full = model.generate(prompt, max_new_tokens=10, use_cache=False)
    assert cached.shape == (2, 14)
    np.testing.assert_array_equal(cached[:, :4], prompt)
    np.testing.assert_array_equal(cached, full)
    single = model.generate([3, 1, 4], max_new_tokens=5)
    assert single.shape == (8,)
    np.testing.assert_array_equal(single, model.generate(np.array([[3, 1, 4]]), 5)[0])
    # Every generated token is the arg-max of the full model's logits at the previous position.
    logits = model(cached[:, :-1]).data
    np.testing.assert_array_equal(logits[:, 3:].argmax(-1), cached[:, 4:])
    with pytest.raises(ValueError, match="max_seq_len"):
        model.generate(prompt, max_new_tokens=29)


def test_generate_restores_training_mode() -> None:
    model = make_gpt()
    model.train()
    model.generate([1, 2], 2)
    assert model.training and model.blocks[0].dropout.training


def test_gpt_learns_a_sequence() -> None:
    model = make_gpt(seed=4)
    for block in model.blocks:
        block.dropout.p = 0.0
    tokens = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9]])
    optimizer = Adam(model.parameters(), lr=0.01)
    loss_fn = CrossEntropyLoss()
    losses = []
    for _ in range(40):
        loss = loss_fn(model(tokens[:, :-1]), tokens[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
    assert losses[-1] < 0.1 * losses[0]
    np.testing.assert_array_equal(model.generate([1], 7), [1, 2, 3, 4, 5, 6, 7, 8])
