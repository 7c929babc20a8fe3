"""The comparison engine: copydetect's tokenizer and winnowing, with fingerprints that can be stored.

copydetect (PyPI, maintained) normalises a Python file with pygments (names to V/F/O, strings to S, comments and
whitespace dropped: `filter_code`), hashes every k-gram of that text and keeps a winnowed subset (`winnow`, the
Schleimer-Wilkerson-Aiken algorithm). Its own k-gram hash is Python's `hash()`, which is salted per process, so
fingerprints taken in one worker could never be compared with those of another: here the k-grams are hashed with
a fixed polynomial hash (numpy, 63 bits) and the rest is copydetect's. A document (a submission, a known solution,
starter code) is all its .py files; its fingerprints are integer arrays encoded as npz (never pickle).

    doc = fingerprint({"tinytorch/core/tensor.py": source, ...})
    match = compare(doc_a, doc_b, boilerplate=hashes_to_ignore)     # share_a, share_b, files, fragments
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from importlib.metadata import version

import numpy as np
from copydetect.utils import filter_code, winnow

K = 25  # characters of normalised code per k-gram: copydetect's default noise threshold
WINDOW = 4  # winnowing window: a match of K + WINDOW - 1 = 28 normalised characters is always found
MIN_RUN = 3  # matched fingerprints in a row before a run counts (about 35 normalised characters)
SAMPLE = 8  # one hash in SAMPLE (by value) goes into a document's screening keys
MAX_FILE_CHARS = 512 * 1024  # a file's text past this is not fingerprinted (intake already caps uploads)
MAX_FILES = 2000
_BASE = np.uint64(1_000_003)
_MASK = np.uint64((1 << 63) - 1)

ENGINE = f"copydetect {version('copydetect')} (k={K}, window={WINDOW})"

logging.getLogger("root").setLevel(logging.ERROR)  # copydetect logs a warning for every file it cannot lex


@dataclass
class Document:
    """A document's fingerprints: for each one its hash, file, position in the file's normalised text and the
    original lines it spans; `sizes` is each file's normalised length."""

    paths: list[str]
    sizes: np.ndarray
    hashes: np.ndarray
    file: np.ndarray
    pos: np.ndarray
    first_line: np.ndarray
    last_line: np.ndarray

    def keys(self) -> np.ndarray:
        """The screening keys: the sampled, sorted, distinct hashes (how candidates are found cheaply)."""
        return np.unique(self.hashes[self.hashes % SAMPLE == 0])


@dataclass
class Match:
    share_a: float
    share_b: float
    shared_lines: int
    files: list[dict[str, object]] = field(default_factory=list)
    fragments: list[dict[str, object]] = field(default_factory=list)

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)


def _kgram_hashes(text: str) -> np.ndarray:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    count = len(codes) - K + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64, on purpose
        for j in range(K):
            hashes = hashes * _BASE + codes[j:j + count]
    return hashes & _MASK


def _lines(raw: str, filtered_index: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Original 1-based line numbers of positions in the normalised text (copydetect's offsets map them back)."""
    index = filtered_index.astype(np.int64)
    if len(offsets) > 0:
        at = np.clip(np.searchsorted(offsets[:, 0], index), 0, offsets.shape[0] - 1)
        index = index + offsets[:, 1][at]
    newlines = np.flatnonzero(np.frombuffer(raw.encode("utf-32-le"), dtype=np.uint32) == 10)
    return (np.searchsorted(newlines, index, side="left") + 1).astype(np.int32)


def fingerprint(sources: dict[str, str]) -> Document:
    """Fingerprint a document's Python files ({path: text}); files too short to hold one k-gram add none."""
    paths: list[str] = []
    parts: list[tuple[np.ndarray, ...]] = []
    sizes: list[int] = []
    for path in sorted(sources)[:MAX_FILES]:
        raw = sources[path][:MAX_FILE_CHARS]
        filtered, offsets = filter_code(raw, path, "python")
        hashes = _kgram_hashes(filtered)
        if len(hashes) == 0:
            continue
        hashes, index = winnow(hashes, WINDOW, remove_duplicates=False)
        index = np.asarray(index, dtype=np.int64)
        number = len(paths)
        paths.append(path)
        sizes.append(len(filtered))
        parts.append((hashes.astype(np.int64), np.full(len(index), number, dtype=np.int32), index.astype(np.int32),
                      _lines(raw, index, offsets), _lines(raw, index + K - 1, offsets)))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Document([], empty, empty, empty.astype(np.int32), empty.astype(np.int32), empty.astype(np.int32),
                        empty.astype(np.int32))
    columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
    return Document(paths, np.array(sizes, dtype=np.int64), *columns)


def encode(document: Document) -> bytes:
    out = io.BytesIO()
    np.savez_compressed(out, paths=np.array(document.paths, dtype=np.str_), sizes=document.sizes,
                        hashes=document.hashes, file_number=document.file, pos=document.pos,
                        first_line=document.first_line, last_line=document.last_line)
    return out.getvalue()


def decode(blob: bytes) -> Document:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return Document([str(p) for p in data["paths"]], data["sizes"], data["hashes"], data["file_number"],
                        data["pos"], data["first_line"], data["last_line"])


def encode_keys(keys: np.ndarray) -> bytes:
    return np.ascontiguousarray(keys, dtype="<i8").tobytes()


def decode_keys(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<i8")


def _coverage(document: Document, chosen: np.ndarray) -> np.ndarray:
    """Normalised characters covered by the chosen fingerprints' k-grams, per file (copydetect's token coverage)."""
    covered = np.zeros(len(document.paths), dtype=np.int64)
    for number in np.unique(document.file[chosen]):
        mask = np.zeros(int(document.sizes[number]) + K, dtype=np.int8)
        starts = document.pos[chosen & (document.file == number)]
        delta = np.zeros(len(mask) + 1, dtype=np.int64)
        np.add.at(delta, starts, 1)
        np.add.at(delta, starts + K, -1)
        covered[number] = int(np.count_nonzero(np.cumsum(delta)[: len(mask)] > 0))
    return covered


def compare(a: Document, b: Document, boilerplate: np.ndarray | None = None, max_files: int = 10) -> Match:
    """How much of `a` is in `b` and of `b` in `a` (boilerplate hashes count on neither side), the file pairs in
    common best first, and the line ranges in common. Only runs of at least MIN_RUN matched fingerprints in a row
    count: a lone k-gram in common is a coincidence of normalised code (`V=V+1`), not copying."""
    ignore = boilerplate if boilerplate is not None else np.zeros(0, dtype=np.int64)
    live_a = ~np.isin(a.hashes, ignore)
    live_b = ~np.isin(b.hashes, ignore)
    total_a, total_b = _coverage(a, live_a), _coverage(b, live_b)
    shared = np.intersect1d(a.hashes[live_a], b.hashes[live_b])
    if not shared.size:
        return Match(0.0, 0.0, 0)
    index_a = np.flatnonzero(live_a & np.isin(a.hashes, shared))
    # Each matched fingerprint of `a` is paired with the first place its hash appears in `b`.
    order = np.argsort(b.hashes, kind="stable")
    where_b = order[np.searchsorted(b.hashes[order], a.hashes[index_a])]
    runs = [run for run in _runs(a, b, index_a, where_b) if len(run[0]) >= MIN_RUN]
    if not runs:
        return Match(0.0, 0.0, 0)
    kept_a = np.concatenate([run[0] for run in runs])
    chosen_a = np.zeros(len(a.hashes), dtype=bool)
    chosen_a[kept_a] = True
    chosen_b = live_b & np.isin(b.hashes, a.hashes[kept_a])
    got_a, got_b = _coverage(a, chosen_a), _coverage(b, chosen_b)
    share_a = float(got_a.sum() / total_a.sum()) if total_a.sum() else 0.0
    share_b = float(got_b.sum() / total_b.sum()) if total_b.sum() else 0.0
    fragments, lines = _fragments(a, b, runs)
    files = _file_pairs(a, b, kept_a, np.concatenate([run[1] for run in runs]), total_a)[:max_files]
    return Match(round(share_a, 4), round(share_b, 4), lines, files, fragments)


def _file_pairs(a: Document, b: Document, index_a: np.ndarray, where_b: np.ndarray,
                total_a: np.ndarray) -> list[dict[str, object]]:
    pairs: dict[tuple[int, int], np.ndarray] = {}
    keys = a.file[index_a].astype(np.int64) * 100_000 + b.file[where_b]
    for key in np.unique(keys):
        chosen = np.zeros(len(a.hashes), dtype=bool)
        chosen[index_a[keys == key]] = True
        pairs[(int(key // 100_000), int(key % 100_000))] = chosen
    rows = []
    for (fa, fb), chosen in pairs.items():
        covered = _coverage(a, chosen)[fa]
        rows.append({"a_path": a.paths[fa], "b_path": b.paths[fb],
                     "score": round(float(covered / total_a[fa]) if total_a[fa] else 0.0, 4)})
    return sorted(rows, key=lambda row: -float(row["score"]))  # type: ignore[arg-type]


def _runs(a: Document, b: Document, index_a: np.ndarray,
          where_b: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Matched fingerprints grouped into runs that follow each other in both files (a new run starts at another
    file on either side, or a jump of more than one k-gram in `a` or four in `b`)."""
    order = np.lexsort((a.pos[index_a], a.file[index_a]))
    ia, ib = index_a[order], where_b[order]
    if not len(ia):
        return []
    breaks = ((a.file[ia[1:]] != a.file[ia[:-1]]) | (b.file[ib[1:]] != b.file[ib[:-1]])
              | (a.pos[ia[1:]].astype(np.int64) - a.pos[ia[:-1]] > K)
              | (np.abs(b.pos[ib[1:]].astype(np.int64) - b.pos[ib[:-1]]) > 4 * K))
    cuts = np.flatnonzero(breaks) + 1
    return list(zip(np.split(ia, cuts), np.split(ib, cuts), strict=True))


def _fragments(a: Document, b: Document,
               runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[dict[str, object]], int]:
    """Each run as line ranges on each side (1-based, inclusive), and how many lines of `a` they cover."""
    fragments: list[dict[str, object]] = []
    for run_a, run_b in runs:
        fragments.append({"a_path": a.paths[a.file[run_a[0]]], "a_start": int(a.first_line[run_a].min()),
                          "a_end": int(a.last_line[run_a].max()), "b_path": b.paths[b.file[run_b[0]]],
                          "b_start": int(b.first_line[run_b].min()), "b_end": int(b.last_line[run_b].max())})
    merged: dict[str, set[int]] = {}
    for frag in fragments:
        merged.setdefault(str(frag["a_path"]), set()).update(range(int(frag["a_start"]), int(frag["a_end"]) + 1))
    return fragments, sum(len(lines) for lines in merged.values())
