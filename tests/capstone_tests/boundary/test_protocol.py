"""The wire format: values survive the round trip, and every untrusted answer is bounded before it is believed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from capstone_tests.boundary.inside import protocol
from capstone_tests.boundary.inside.protocol import Malformed, Opaque


def _round_trip(value: object) -> object:
    return protocol.decode(json.loads(json.dumps(protocol.encode(value))))


@pytest.mark.parametrize("dtype", sorted(protocol.ALLOWED_DTYPES))
def test_arrays_keep_dtype_shape_and_values(dtype: str) -> None:
    array = (np.arange(24) % 3).astype(dtype).reshape(2, 3, 4)
    back = _round_trip(array)
    assert isinstance(back, np.ndarray) and back.dtype == array.dtype and back.shape == (2, 3, 4)
    assert np.array_equal(back, array)


def test_plain_values_tuples_dicts_slices_and_specials_round_trip() -> None:
    value = {"a": (1, 2.5, None, True), 3: [slice(1, None, 2), Ellipsis, "x"], "f": float("nan")}
    back = _round_trip(value)
    assert back["a"] == (1, 2.5, None, True) and back[3] == [slice(1, None, 2), Ellipsis, "x"]
    assert np.isnan(back["f"])
    scalar = _round_trip(np.float32(1.5))
    assert isinstance(scalar, np.float32) and scalar == 1.5


def test_objects_that_are_not_data_become_descriptions() -> None:
    class Weird:
        pass

    assert _round_trip(Weird()).description.endswith("Weird")
    assert _round_trip(np.array([object()], dtype=object)) == Opaque("numpy array of dtype object", (1,))
    assert _round_trip(10**400) == Opaque("an integer too large to send")


def test_deep_nesting_is_refused_before_parsing() -> None:
    line = ("[" * 100_000 + "]" * 100_000).encode()
    with pytest.raises(Malformed, match="nested 100000 deep"):
        protocol.parse_json(line)
    # brackets inside strings do not count
    assert protocol.nesting_depth(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "b": [1]}') == 2


@pytest.mark.parametrize("text, why", [
    (b'{"r": "values", "values": [' + b"9" * 400 + b"]}", "out of range"),
    (b'{"r": "values", "values": [1e400]}', "overflows"),
    (b'{"r": "values", "values": [NaN]}', "NaN"),
    (b'{"r": "values", "values": [{"$a": ["object", [1], "AA=="]}]}', "not allowed"),
    (b'{"r": "values", "values": [{"$a": ["float32", [4], "AAAA"]}]}', "needs 16"),
    (b'{"r": "values", "values": [{"$a": ["float32", [100000, 100000], ""]}]}', "over the limit"),
    (b'{"r": "values", "values": [{"$h": 3}]}', "tagged"),
    (b'{"r": "nonsense"}', "not an answer"),
    (b'{"r": "count", "n": -1}', "count"),
    (b"not json", "not JSON"),
    (b'{"r": "values", "values": ["' + b"x" * 200_000 + b'"]}', "string of"),
])
def test_malformed_answers_raise_malformed_and_nothing_else(text: bytes, why: str) -> None:
    with pytest.raises(Malformed, match=why):
        protocol.decode_answer(text)


def test_frames_split_and_refuse_garbage() -> None:
    reader = protocol.FrameReader(protocol.EVENT + protocol.DATA)
    stream = protocol.frame(protocol.DATA, b"abc") + protocol.frame_json(protocol.EVENT, {"event": "x"})
    assert reader.feed(stream[:5]) == []
    assert reader.feed(stream[5:]) == [(b"D", b"abc"), (b"E", b'{"event":"x"}')]
    with pytest.raises(Malformed):
        protocol.FrameReader(protocol.EVENT).feed(b"D00000001\nx")
    with pytest.raises(Malformed):
        protocol.FrameReader(protocol.EVENT).feed(b'{"event":"done"}\n')


def _depth_by_walking(line: bytes) -> int:
    """nesting_depth's meaning, spelled byte by byte. A backslash escapes the next byte wherever it is: outside a
    string it is not JSON, and the parser stops there, before any nesting that follows."""
    depth = deepest = 0
    inside = escaped = False
    for byte in line:
        if escaped:
            escaped = False
        elif byte == 0x5C:
            escaped = True
        elif inside:
            if byte == 0x22:
                inside = False
        elif byte == 0x22:
            inside = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def test_nesting_depth_matches_a_byte_by_byte_walk() -> None:
    """Escapes (runs of backslashes before quotes and brackets), brackets in strings, unbalanced text, a line
    longer than one chunk: the fast scan agrees with the plain walk everywhere."""
    rng = np.random.default_rng(7)
    alphabet = np.frombuffer(b'[]{}"\\\\\\ab,:', dtype=np.uint8)
    for size in (1, 5, 40, 300, 5_000):
        for _ in range(200 if size < 5_000 else 20):
            line = alphabet[rng.integers(0, len(alphabet), size)].tobytes()
            assert protocol.nesting_depth(line) == _depth_by_walking(line), line
    long_line = b'{"a": "' + b"\\\\" * 700_000 + b'", "b": ' + b"[" * 50 + b"]" * 50 + b', "c": "\\"[[["}'
    assert protocol.nesting_depth(long_line) == _depth_by_walking(long_line) == 51


def test_an_errors_frames_keep_bounded_parameter_names() -> None:
    frame = {"file": "/sub/tinytorch/core/layers.py", "line": 3, "function": "Linear.forward", "code": "x @ w",
             "args": ["self", "x", 7, "y" * 500] + ["z"] * 100}
    answer = json.dumps({"r": "error", "error": {"type": "ValueError", "message": "m", "frames": [frame], "op": 1}})
    [decoded] = protocol.decode_answer(answer.encode())["failure"].frames
    assert decoded["args"][:3] == ["self", "x", "y" * 64]  # a name that is no string is dropped, a long one cut
    assert len(decoded["args"]) == protocol.MAX_FRAME_ARGS - 1
    del frame["args"]  # a frame recorded without them (an older server) stays without them
    answer = json.dumps({"r": "error", "error": {"type": "ValueError", "message": "m", "frames": [frame], "op": 1}})
    assert "args" not in protocol.decode_answer(answer.encode())["failure"].frames[0]


def test_parameter_names_are_the_functions_own() -> None:
    def step(self: object, x: int, *rest: int, scale: float = 1.0, **options: object) -> None:
        local = x  # noqa: F841 - a local, not a parameter
    assert protocol.parameter_names(step.__code__) == ["self", "x", "scale", "rest", "options"]
