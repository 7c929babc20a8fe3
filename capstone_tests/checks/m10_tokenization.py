"""Module 10 (tokenization) checks: round trips, vocabulary coverage, stable ids, BPE compression."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..probes import m10_tokenization as probes
from ..registry import check
from ..verdict import CheckFailed
from . import expect

LETTERS = list("abcdefghijklmnopqrstuvwxyz")


def _char_challenge(r: np.random.Generator) -> dict[str, Any]:
    alphabet = "".join(r.choice(LETTERS, int(r.integers(5, 9)), replace=False))
    return {"alphabet": alphabet, "lines": int(r.integers(2, 5)), "text_len": int(r.integers(15, 30))}


def _bpe_challenge(r: np.random.Generator) -> dict[str, Any]:
    alphabet = list(r.choice(LETTERS, int(r.integers(4, 7)), replace=False))
    words: list[str] = []
    while len(words) < int(r.integers(4, 7)):
        word = "".join(r.choice(alphabet, int(r.integers(3, 7))))
        if word not in words:
            words.append(word)
    counts = [int(c) for c in r.integers(2, 4, len(words))]
    counts[int(r.integers(0, len(words)))] = int(r.integers(5, 7))  # one clearly most frequent word
    # Room for every merge the corpus allows: characters (with or without end-of-word variants) plus
    # one merge per adjacent pair of every distinct word, plus special tokens.
    return {"words": words, "counts": counts, "vocab_size": 2 * len(alphabet) + sum(map(len, words)) + 8}


def _int_list(value: Any, what: str) -> list[int]:
    ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    expect.that(ok, f"{what} should be a list of integer token ids, got {str(value)[:80]}", 10)
    return value


# ----------------------------------------------------------------------------- CharTokenizer
@check(module=10, challenge=_char_challenge)
def test_char_round_trip(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    text = probes.char_text(challenge)
    ids = _int_list(artefacts["ids"], "CharTokenizer.encode(text)")
    expect.that(len(ids) == len(text),
                f"CharTokenizer.encode gave {len(ids)} ids for {len(text)} characters: one id per character", 10)
    decoded = artefacts["decoded"]
    expect.that(isinstance(decoded, str), f"CharTokenizer.decode returned {type(decoded).__name__}, not a str", 10)
    expect.equal(decoded, text,
                 f"CharTokenizer.decode(encode(text)) gave {decoded[:40]!r}, expected {text[:40]!r}: decode must "
                 f"invert encode for every character seen by build_vocab", 10,
                 given={"corpus": probes.char_corpus(challenge), "text": text, "ids": ids})


@check(module=10, challenge=_char_challenge)
def test_char_vocab_covers_corpus(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    chars = sorted(set("".join(probes.char_corpus(challenge))))
    ids = []
    for char, encoded in zip(chars, artefacts["per_char"], strict=True):
        encoded = _int_list(encoded, f"CharTokenizer.encode({char!r})")
        expect.that(len(encoded) == 1, f"CharTokenizer.encode({char!r}) gave {encoded}: one id per character", 10)
        ids.append(encoded[0])
    shared = len(ids) - len(set(ids))
    expect.that(shared == 0,
                f"{shared} corpus characters share an id with another: build_vocab must give every distinct "
                f"character of the corpus its own id", 10, ids=dict(zip(chars, ids, strict=True)))
    size = artefacts["vocab_size"]
    if size is not None:
        expect.that(size >= len(chars),
                    f"vocab_size is {size} but the corpus has {len(chars)} distinct characters", 10)
        expect.that(all(0 <= i < size for i in ids),
                    f"character ids {sorted(ids)} fall outside [0, vocab_size={size})", 10)


@check(module=10, challenge=_char_challenge)
def test_char_encode_ids_stable(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    text = probes.char_text(challenge)
    first = _int_list(artefacts["first"], "CharTokenizer.encode(text)")
    expect.that(_int_list(artefacts["again"], "a second encode(text)") == first,
                "encoding the same text twice gave different ids: encode must be deterministic", 10)
    singles = [_int_list(ids, f"encode({c!r})") for c, ids in zip(text, artefacts["per_char"], strict=True)]
    for position, (char, single) in enumerate(zip(text, singles, strict=True)):
        if single != first[position:position + 1]:
            raise CheckFailed(f"character {char!r} encodes to {single} alone but to "
                              f"{first[position:position + 1]} at position {position} of a text: a character's id "
                              f"must not depend on its context", 10)
    expect.that(_int_list(artefacts["rebuilt"], "encode(text) after rebuilding") == first,
                "a second tokenizer built from the same corpus encodes the same text to different ids: build the "
                "vocabulary in a deterministic order (e.g. sorted characters)", 10)


# ----------------------------------------------------------------------------- BPETokenizer
@check(module=10, challenge=_bpe_challenge)
def test_bpe_round_trip(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    for word, encoded, decoded in zip(challenge["words"], artefacts["encoded"], artefacts["decoded"], strict=True):
        _int_list(encoded, f"BPETokenizer.encode({word!r})")
        expect.that(isinstance(decoded, str), f"BPETokenizer.decode returned {type(decoded).__name__}, not a str", 10)
        expect.equal(decoded.strip(), word,
                     f"BPETokenizer.decode(encode({word!r})) gave {decoded!r}: a word from the training corpus must "
                     f"decode back to itself (encoded as {encoded})", 10, given={"word": word, "ids": encoded})


@check(module=10, challenge=_bpe_challenge)
def test_bpe_compresses(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    corpus = probes.bpe_corpus(challenge)
    tokens = sum(len(_int_list(ids, f"BPETokenizer.encode({w!r})")) for w, ids in
                 zip(corpus, artefacts["encoded"], strict=True))
    chars = sum(map(len, corpus))
    expect.that(tokens < chars,
                f"BPE encodes its own training corpus ({chars} characters) into {tokens} tokens: after training, "
                f"frequent pairs must be merged into single tokens, so the text gets shorter", 10)


@check(module=10, challenge=_bpe_challenge)
def test_bpe_merges_frequent_word(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    index = int(np.argmax(challenge["counts"]))
    word, count = challenge["words"][index], challenge["counts"][index]
    encoded = _int_list(artefacts["encoded"], f"BPETokenizer.encode({word!r})")
    given = {"word": word, "occurrences in the corpus": count, "vocab_size": challenge["vocab_size"]}
    expect.that(len(encoded) == 1,
                f"{word!r} occurs {count} times in the training corpus and vocab_size={challenge['vocab_size']} "
                f"leaves room for every merge, yet it encodes to {len(encoded)} tokens: keep merging the most "
                f"frequent pair (and apply the learned merges when encoding) until it is one token", 10,
                example=expect.example("one token id", encoded, given))


@check(module=10, challenge=_bpe_challenge)
def test_bpe_ids_within_vocab(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    size = challenge["vocab_size"]
    for word, first, again in zip(challenge["words"], artefacts["first"], artefacts["again"], strict=True):
        first = _int_list(first, f"BPETokenizer.encode({word!r})")
        expect.that(all(0 <= i < size for i in first),
                    f"BPETokenizer.encode({word!r}) gave ids {first} outside [0, vocab_size={size})", 10)
        expect.that(_int_list(again, "a second encode") == first,
                    f"encoding {word!r} twice gave {first} and {again}: encode must be deterministic", 10)
