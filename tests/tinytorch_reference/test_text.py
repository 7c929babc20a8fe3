"""Tokenizers and embeddings of the reference."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch_reference.tinytorch.core.embeddings import Embedding, PositionalEncoding
from tinytorch_reference.tinytorch.core.tensor import Tensor
from tinytorch_reference.tinytorch.core.tokenization import BPETokenizer, CharTokenizer

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "the lazy dog sleeps;  the quick fox runs\tthere and back again\n",
    "  leading spaces, trailing spaces   ",
    "thethethe theory of the other",
]


# ------------------------------------------------------------------------------------------ chars
def test_char_tokenizer_round_trips_and_reserves_unk() -> None:
    tok = CharTokenizer()
    tok.build_vocab(CORPUS)
    assert tok.vocab[0] == "<UNK>" and tok.encode("é") == [0]
    assert tok.vocab[1:] == sorted(set("".join(CORPUS)))
    assert tok.vocab_size == len(tok.vocab)
    for text in CORPUS:
        ids = tok.encode(text)
        assert all(isinstance(i, int) for i in ids) and len(ids) == len(text)
        assert tok.decode(ids) == text
    assert tok.decode(tok.encode("dog€")) == "dog<UNK>"
    assert tok.decode(np.array(tok.encode("fox"))) == "fox"


def test_char_tokenizer_with_a_given_vocab() -> None:
    tok = CharTokenizer(["a", "b", "c"])
    assert tok.encode("abcd") == [1, 2, 3, 0]
    assert tok.decode([3, 2, 1]) == "cba"


# -------------------------------------------------------------------------------------------- BPE
def test_bpe_round_trips_every_training_text_exactly() -> None:
    tok = BPETokenizer(vocab_size=120)
    tok.train(CORPUS)
    for text in CORPUS:
        assert tok.decode(tok.encode(text)) == text


def test_bpe_learns_merges_that_shorten_the_encoding() -> None:
    tok = BPETokenizer(vocab_size=80)
    tok.train(CORPUS)
    chars = len(set("".join(CORPUS)))
    assert chars + 1 < len(tok.vocab) <= 80
    assert len(tok.vocab) == len(set(tok.vocab))
    assert tok.merges[0] in {("t", "h"), (" ", "t")}  # the most frequent pair comes first
    text = CORPUS[0]
    assert len(tok.encode(text)) < len(text) / 2
    assert "the" in tok.vocab or " the" in tok.vocab


def test_bpe_vocab_size_argument_of_train_and_unknown_characters() -> None:
    tok = BPETokenizer()
    tok.train(CORPUS, vocab_size=40)
    assert len(tok.vocab) <= 40
    ids = tok.encode("the ☃ fox")
    assert 0 in ids  # the snowman is unknown
    assert tok.decode(ids) == "the <UNK> fox"
    assert tok.decode(tok.encode("the fox over")) == "the fox over"  # unseen text of seen characters


def test_bpe_training_is_deterministic() -> None:
    a, b = BPETokenizer(100), BPETokenizer(100)
    a.train(CORPUS)
    b.train(list(CORPUS))
    assert a.merges == b.merges and a.vocab == b.vocab


# ------------------------------------------------------------------------------------- embeddings
def test_embedding_lookup_shapes_and_values() -> None:
    emb = Embedding(10, 4)
    assert emb.weight.shape == (10, 4) and emb.weight.requires_grad
    assert emb.parameters() == [emb.weight]
    for indices in ([1, 2, 3], np.array([[1, 2], [3, 4]]), Tensor([[0.0, 9.0]])):
        out = emb(indices)
        expected_ids = np.asarray(indices.data if isinstance(indices, Tensor) else indices).astype(int)
        assert out.shape == (*expected_ids.shape, 4)
        np.testing.assert_array_equal(out.data, emb.weight.data[expected_ids])
    with pytest.raises(IndexError):
        emb([10])


def test_embedding_gradient_accumulates_repeated_tokens() -> None:
    emb = Embedding(5, 3)
    emb([[1, 1, 2], [1, 4, 4]]).sum().backward()
    expected = np.zeros((5, 3), dtype=np.float32)
    expected[1], expected[2], expected[4] = 3.0, 1.0, 2.0
    np.testing.assert_array_equal(emb.weight.grad, expected)


def test_positional_encoding_is_learned_and_added() -> None:
    pe = PositionalEncoding(max_seq_len=8, embed_dim=4)
    assert pe.parameters() == [pe.position_embeddings] and pe.position_embeddings.requires_grad
    x = Tensor(np.ones((2, 5, 4)))
    out = pe(x)
    np.testing.assert_allclose(out.data, np.broadcast_to(1.0 + pe.position_embeddings.data[:5], (2, 5, 4)))
    out.sum().backward()
    expected = np.zeros((8, 4), dtype=np.float32)
    expected[:5] = 2.0  # two batch elements each add one to positions 0..4
    np.testing.assert_array_equal(pe.position_embeddings.grad, expected)
    np.testing.assert_allclose(pe(x, offset=3).data[:, 0], 1.0 + pe.position_embeddings.data[[3, 3]])
    with pytest.raises(ValueError, match="max_seq_len"):
        pe(Tensor(np.ones((1, 9, 4))))


def test_embedding_weight_gets_gradient_through_positional_encoding() -> None:
    emb, pe = Embedding(20, 8), PositionalEncoding(16, 8)
    out = pe(emb(np.array([[1, 2, 3], [4, 5, 6]])))
    (out * out).sum().backward()
    assert emb.weight.grad is not None and np.abs(emb.weight.grad[1:7]).sum() > 0
    assert np.all(emb.weight.grad[7:] == 0) and np.all(emb.weight.grad[0] == 0)
    assert pe.position_embeddings.grad is not None
