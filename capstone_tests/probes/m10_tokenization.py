"""Module 10 (tokenization) probes: CharTokenizer and BPETokenizer on small random corpora.

The BPE corpus is a list of words (no whitespace inside an entry) and only single words are round-
tripped: the course's BPE marks word ends with `</w>` and normalises whitespace on decode, others keep
spaces inside tokens; a single word seen in training decodes to itself under every convention.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import Resolver
from ._common import is_none, rng, view_later


def char_corpus(challenge: dict[str, Any]) -> list[str]:
    """A few lines of random 'words' over a small alphabet, separated by single spaces."""
    r = rng(challenge)
    alphabet = challenge["alphabet"]
    lines = []
    for _ in range(challenge["lines"]):
        words = ["".join(r.choice(list(alphabet), int(r.integers(2, 7)))) for _ in range(int(r.integers(2, 5)))]
        lines.append(" ".join(words))
    return lines


def char_text(challenge: dict[str, Any]) -> str:
    """A text made only of characters the corpus contains (so it must round-trip exactly)."""
    chars = sorted(set("".join(char_corpus(challenge))))
    r = rng(challenge, 1)
    return "".join(r.choice(chars, challenge["text_len"]))


def bpe_corpus(challenge: dict[str, Any]) -> list[str]:
    """Each word of the challenge repeated its number of times, shuffled."""
    words = [w for w, count in zip(challenge["words"], challenge["counts"], strict=True) for _ in range(count)]
    order = rng(challenge, 2).permutation(len(words))
    return [words[i] for i in order]


def _ids(encoded: Any) -> Any:
    """An encoding, already read, as a plain list (numpy ints become ints on the way out); other types pass as
    they are."""
    if isinstance(encoded, np.ndarray):
        return encoded.tolist()
    return list(encoded) if isinstance(encoded, (list, tuple)) else encoded


def _read_ids(tt: Resolver, encodings: list[Any]) -> list[Any]:
    """Each of the student's encodings (proxies when remote: read in one round trip) as `_ids` gives it."""
    return [_ids(encoded) for encoded in tt.materialize(list(encodings))]


def _char_tokenizer(tt: Resolver, challenge: dict[str, Any]) -> Any:
    tokenizer = tt.CharTokenizer()
    tokenizer.build_vocab(char_corpus(challenge))
    return tokenizer


def _vocab_size(tt: Resolver, tokenizer: Any) -> Any:
    size = tt.materialize(view_later("attr_or_none", tokenizer, "vocab_size"))
    if size is None:
        vocab = view_later("attr_or_none", tokenizer, "vocab")
        if not is_none(vocab):
            size = len(vocab)
    return int(size) if isinstance(size, (int, np.integer)) else None


def _bpe(tt: Resolver, challenge: dict[str, Any]) -> Any:
    tokenizer = tt.BPETokenizer(vocab_size=challenge["vocab_size"])
    tokenizer.train(bpe_corpus(challenge), vocab_size=challenge["vocab_size"])
    return tokenizer


def _decodable(ids: Any, encoded: Any) -> Any:
    """What to hand decode: the ids as a plain list, or (not a list) the student's own encoding unchanged."""
    return ids if isinstance(ids, list) else encoded


def test_char_round_trip(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tokenizer = _char_tokenizer(tt, challenge)
    encoded = tokenizer.encode(char_text(challenge))
    [ids] = _read_ids(tt, [encoded])
    return {"ids": ids, "decoded": tokenizer.decode(_decodable(ids, encoded))}


def test_char_vocab_covers_corpus(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tokenizer = _char_tokenizer(tt, challenge)
    chars = sorted(set("".join(char_corpus(challenge))))
    encoded = [tokenizer.encode(c) for c in chars]
    return {"vocab_size": _vocab_size(tt, tokenizer), "per_char": _read_ids(tt, encoded)}


def test_char_encode_ids_stable(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tokenizer = _char_tokenizer(tt, challenge)
    text = char_text(challenge)
    first, again = tokenizer.encode(text), tokenizer.encode(text)
    per_char = [tokenizer.encode(c) for c in text]
    rebuilt = _char_tokenizer(tt, challenge).encode(text)
    first, again, rebuilt, *per_char = _read_ids(tt, [first, again, rebuilt, *per_char])
    return {"first": first, "again": again, "per_char": per_char, "rebuilt": rebuilt}


def test_bpe_round_trip(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tokenizer = _bpe(tt, challenge)
    encodings = [tokenizer.encode(w) for w in challenge["words"]]
    encoded = _read_ids(tt, encodings)
    return {"encoded": encoded,
            "decoded": [tokenizer.decode(_decodable(ids, raw)) for ids, raw in zip(encoded, encodings, strict=True)]}


def test_bpe_compresses(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tokenizer = _bpe(tt, challenge)
    return {"encoded": _read_ids(tt, [tokenizer.encode(w) for w in bpe_corpus(challenge)])}


def test_bpe_merges_frequent_word(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tokenizer = _bpe(tt, challenge)
    frequent = challenge["words"][int(np.argmax(challenge["counts"]))]
    [encoded] = _read_ids(tt, [tokenizer.encode(frequent)])
    return {"encoded": encoded}


def test_bpe_ids_within_vocab(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
    tokenizer = _bpe(tt, challenge)
    first = [tokenizer.encode(w) for w in challenge["words"]]
    again = [tokenizer.encode(w) for w in challenge["words"]]
    read = _read_ids(tt, first + again)
    return {"first": read[:len(first)], "again": read[len(first):]}
