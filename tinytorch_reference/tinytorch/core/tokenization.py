"""Module 10: tokenization.

Both tokenizers reserve id 0 for `<UNK>`: a character never seen while building the vocabulary encodes
to 0 and decodes to the string "<UNK>", so encoding never fails on new text.

BPETokenizer learns merges inside "words" (a run of whitespace followed by a run of non-whitespace, so
the space before a word belongs to it, as in GPT-2). Tokens are plain substrings and a text is split
losslessly into words, so `decode(encode(text)) == text` for any text made of characters seen in
training (no `</w>` markers to strip, no whitespace normalisation).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise

__all__ = ["BPETokenizer", "CharTokenizer"]

UNK = "<UNK>"
_WORD = re.compile(r"\s*\S+|\s+")


def _ids(tokens: Iterable[int]) -> list[int]:
    return [int(t) for t in tokens]


class CharTokenizer:
    def __init__(self, vocab: Sequence[str] | None = None) -> None:
        self._set_vocab(list(vocab) if vocab is not None else [])

    def _set_vocab(self, chars: list[str]) -> None:
        self.vocab: list[str] = [UNK] + [c for c in dict.fromkeys(chars) if c != UNK]
        self.char_to_id = {c: i for i, c in enumerate(self.vocab)}
        self.id_to_char = dict(enumerate(self.vocab))
        self.unk_id = 0

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def build_vocab(self, corpus: Iterable[str]) -> None:
        """Vocabulary = <UNK> + every distinct character of the corpus, sorted (deterministic ids)."""
        if isinstance(corpus, str):
            corpus = [corpus]
        self._set_vocab(sorted(set().union(*map(set, corpus))))

    def encode(self, text: str) -> list[int]:
        return [self.char_to_id.get(c, self.unk_id) for c in text]

    def decode(self, tokens: Iterable[int]) -> str:
        return "".join(self.id_to_char.get(t, UNK) for t in _ids(tokens))


class BPETokenizer:
    def __init__(self, vocab_size: int = 1000) -> None:
        self.vocab_size = vocab_size
        self.vocab: list[str] = [UNK]
        self.token_to_id: dict[str, int] = {UNK: 0}
        self.merges: list[tuple[str, str]] = []
        self._ranks: dict[tuple[str, str], int] = {}
        self._cache: dict[str, list[str]] = {}
        self.unk_id = 0

    def train(self, corpus: Iterable[str] | str, vocab_size: int | None = None) -> None:
        """Learn merges until the vocabulary holds `vocab_size` tokens or no pair occurs twice."""
        if vocab_size is not None:
            self.vocab_size = vocab_size
        texts = [corpus] if isinstance(corpus, str) else list(corpus)
        word_counts = Counter(w for text in texts for w in _WORD.findall(text))
        chars = sorted({c for word in word_counts for c in word})
        self.vocab = [UNK, *chars]
        self.merges = []
        # Each distinct word as its current list of symbols, with how often it occurs. Pair counts are
        # updated incrementally: a merge only revisits the words that contain the merged pair.
        words = [(list(word), count) for word, count in word_counts.items()]
        pairs: Counter[tuple[str, str]] = Counter()
        where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
        for index, (symbols, count) in enumerate(words):
            _count_pairs(symbols, count, index, pairs, where)
        known = set(self.vocab)
        while len(self.vocab) < self.vocab_size and pairs:
            # Most frequent pair; ties broken by the pair itself so training is deterministic.
            best, frequency = max(pairs.items(), key=lambda item: (item[1], item[0]))
            if frequency < 2:
                break
            self.merges.append(best)
            token = best[0] + best[1]
            if token not in known:  # "a"+"bc" and "ab"+"c" are the same token
                known.add(token)
                self.vocab.append(token)
            for index in where.pop(best):
                symbols, count = words[index]
                _count_pairs(symbols, -count, index, pairs, where)
                symbols = _merge(symbols, best)
                _count_pairs(symbols, count, index, pairs, where)
                words[index] = (symbols, count)
        self._index()

    def _index(self) -> None:
        self.token_to_id = {t: i for i, t in enumerate(self.vocab)}
        self._ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self._cache = {}

    def _tokenize_word(self, word: str) -> list[str]:
        if word in self._cache:
            return self._cache[word]
        symbols = list(word)
        # Apply learned merges in the order they were learned (lowest rank first), as training did.
        while len(symbols) > 1:
            ranked = [(self._ranks.get(pair, len(self._ranks)), pair)
                      for pair in pairwise(symbols)]
            rank, pair = min(ranked)
            if rank == len(self._ranks):
                break
            symbols = _merge(symbols, pair)
        self._cache[word] = symbols
        return symbols

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in _WORD.findall(text):
            ids.extend(self.token_to_id.get(s, self.unk_id) for s in self._tokenize_word(word))
        return ids

    def decode(self, tokens: Iterable[int]) -> str:
        vocab = self.vocab
        return "".join(vocab[t] if 0 < t < len(vocab) else UNK for t in _ids(tokens))


def _count_pairs(symbols: list[str], count: int, index: int, pairs: Counter[tuple[str, str]],
                 where: defaultdict[tuple[str, str], set[int]]) -> None:
    """Add `count` (negative to remove) for every adjacent pair of one word, dropping pairs that reach 0."""
    for pair in pairwise(symbols):
        pairs[pair] += count
        if pairs[pair] <= 0:
            del pairs[pair]
        elif count > 0:
            where[pair].add(index)


def _merge(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Replace every non-overlapping occurrence of `pair`, left to right."""
    first, second = pair
    merged: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == first and symbols[i + 1] == second:
            merged.append(first + second)
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged
