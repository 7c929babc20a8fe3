"""The trust boundary's wire format, spelled once: frames, requests, answers and the value codec.

Two streams cross the sandbox wall, both made of *frames* (a 10-byte header `K%08x\n`, then that many bytes):
- host -> supervisor (the sandbox's stdin): `C` control (JSON: start a test, end it) and `D` data (bytes for the
  current test's object server);
- supervisor -> host (the sandbox's stdout): `E` events (JSON, written only by the supervisor: ready, started,
  ended with the measured figures) and `D` data (bytes the object server wrote, relayed without looking at them).
Only the supervisor (PID 1, not dumpable) writes the sandbox's stdout, so the host can tell its events from
anything the student's process says: whatever the server writes arrives inside `D` frames.

Between the harness and the object server the data is newline-delimited JSON. Requests (one object per line) name
objects by *handles*, integers the harness assigns, so calls pipeline: the harness sends `call` after `call`
without waiting, and waits only for requests that want an answer (`import`, `fetch`, `unpack`, `sync`).
The server answers those, in order, with one line each. A pipelined request that raises records the first
error; the server then skips requests until the next one that wants an answer, and answers it with that error
(the harness raises it where the probe next reads a value, as if the call had raised a little later).

Values (arguments, and what `fetch` answers) are JSON with tagged forms: `{"$h": id}` a handle (harness ->
server only), `{"$a": [dtype, shape, base64]}` an array, `{"$g": [dtype, base64]}` a numpy scalar, `{"$t": [...]}`
a tuple, `{"$d": [[k, v], ...]}` a dict, `{"$s": [start, stop, step]}` a slice, `{"$e": null}` Ellipsis,
`{"$f": "nan"}` a non-finite float, `{"$o": description}` an object that is not plain data (server -> harness
only). Everything the server sends is untrusted: `decode_answer` checks size
and nesting depth *before* parsing, bounds every number, and raises `Malformed` for anything off the schema.

This module runs on both sides (it is mounted into the sandbox with the server): stdlib and numpy only.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# numpy is imported by the functions that use it, not here: the grader's command line starts the sandbox with
# the link (session.py, which frames and parses the supervisor's events with this module) before it loads numpy
# and the suites (~0.1 s, which then overlap with the container's start).

# ------------------------------------------------------------------------------------------------ frames
HEADER_BYTES = 10
CONTROL, DATA, EVENT = b"C", b"D", b"E"
MAX_FRAME = 64 * 1024 * 1024


def frame(kind: bytes, payload: bytes) -> bytes:
    return kind + b"%08x\n" % len(payload) + payload


def frame_json(kind: bytes, message: dict[str, Any]) -> bytes:
    return frame(kind, json.dumps(message, separators=(",", ":")).encode())


class FrameReader:
    """Splits a byte stream into (kind, payload) frames; raises Malformed on a header that is not one."""

    def __init__(self, kinds: bytes) -> None:
        self.kinds = kinds
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[bytes, bytes]]:
        self.buffer += chunk
        frames = []
        while len(self.buffer) >= HEADER_BYTES:
            kind, size_text, newline = bytes(self.buffer[:1]), bytes(self.buffer[1:9]), self.buffer[9]
            if kind not in self.kinds or newline != 0x0A or not re.fullmatch(rb"[0-9a-f]{8}", size_text):
                raise Malformed(f"not a frame header: {bytes(self.buffer[:HEADER_BYTES])!r}")
            size = int(size_text, 16)
            if size > MAX_FRAME:
                raise Malformed(f"frame of {size} bytes is over the limit of {MAX_FRAME}")
            if len(self.buffer) < HEADER_BYTES + size:
                break
            frames.append((kind, bytes(self.buffer[HEADER_BYTES:HEADER_BYTES + size])))
            del self.buffer[:HEADER_BYTES + size]
        return frames


# ------------------------------------------------------------------------------------------------ requests
# op -> the fields it carries besides "op". Requests that want an answer are ANSWERED.
REQUESTS: dict[str, tuple[str, ...]] = {
    "import": ("id", "paths"),  # bind id to the first importable `tinytorch.<path>`; answers which one
    "get": ("id", "obj", "name"),  # id = obj.name
    "set": ("obj", "name", "value"),  # obj.name = value
    "call": ("id", "obj", "args", "kwargs"),  # id = obj(*args, **kwargs)
    "method": ("id", "obj", "name", "args", "kwargs"),  # id = obj.name(*args, **kwargs)
    "operator": ("id", "name", "args"),  # id = operator.<name>(*args), name from OPERATORS
    "helper": ("id", "name", "args", "kwargs"),  # id = adaptors.<name>(...), name from adaptors.HELPERS
    "unpack": ("id", "obj", "limit"),  # ids id, id+1, ... = the items of obj; answers how many
    "fetch": ("objs",),  # answers the values of objs, by value
    "sync": (),  # answers ok, or the first error since the last answer
    "release": ("ids",),  # forget these handles (the harness dropped its proxies), so their objects can be freed
}
ANSWERED = frozenset({"import", "unpack", "fetch", "sync"})
OPERATORS = frozenset({
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "neg", "pos", "abs",
    "lt", "le", "eq", "ne", "gt", "ge", "getitem", "setitem", "contains", "is_", "is_not", "not_",
})
MAX_UNPACK = 100_000

# ------------------------------------------------------------------------------------------------ values
ALLOWED_DTYPES = frozenset(
    {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
     "bool"}
)
MAX_ARRAY_ELEMENTS = 4_000_000
MAX_DEPTH = 40  # nesting of any answer, checked before parsing
MAX_ANSWER_BYTES = 48 * 1024 * 1024
MAX_STRING = 100_000
MAX_INT_DIGITS = 20  # |n| < 10**20: beyond int64 and uint64, never 10**400
MAX_ITEMS = 1_000_000
OPAQUE_TEXT = 300


class Malformed(ValueError):
    """An answer (or frame) that is not what the protocol allows: the test that got it fails, never the grading."""


@dataclass(frozen=True)
class Handle:
    """A harness-assigned name for an object living in the object server."""

    id: int


@dataclass(frozen=True)
class Opaque:
    """A value that is not plain data (a student's object where numbers were asked for), by description."""

    description: str
    shape: tuple[int, ...] | None = None

    def __repr__(self) -> str:
        return f"<{self.description}>"


def encode(value: Any, depth: int = 0) -> Any:
    """A Python value as protocol JSON. Handles encode as references; unknown objects as Opaque descriptions
    (the server's answers) or errors (the harness's requests, which carry only data and handles)."""
    import numpy as np

    if depth > MAX_DEPTH - 2:
        raise ValueError("value nested too deeply for the protocol")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if len(str(abs(value))) <= MAX_INT_DIGITS else {"$o": "an integer too large to send"}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$f": repr(value)}
    if isinstance(value, Handle):
        return {"$h": value.id}
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic):
        if value.dtype.name not in ALLOWED_DTYPES:
            return {"$o": f"numpy scalar of dtype {value.dtype.name}"}
        return {"$g": [value.dtype.name, base64.b64encode(value.tobytes()).decode("ascii")]}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, slice):
        return {"$s": [encode(value.start, depth + 1), encode(value.stop, depth + 1), encode(value.step, depth + 1)]}
    if value is Ellipsis:
        return {"$e": None}
    if isinstance(value, tuple):
        return {"$t": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"$d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, Opaque):
        return {"$o": value.description}
    return {"$o": describe(value)}


def describe(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"[:OPAQUE_TEXT]


def _encode_array(array: np.ndarray) -> Any:
    import numpy as np

    if array.dtype.name not in ALLOWED_DTYPES:
        return {"$o": f"numpy array of dtype {array.dtype.name}", "shape": list(array.shape)}
    if array.size > MAX_ARRAY_ELEMENTS:
        return {"$o": f"numpy array of {array.size} elements (over {MAX_ARRAY_ELEMENTS})"}
    data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
    return {"$a": [array.dtype.name, list(array.shape), data]}


def decode(value: Any, resolve: Any = None, depth: int = 0) -> Any:
    """Protocol JSON back to Python values. `resolve(id)` turns a handle into its object (server side); without
    it a handle is refused (answers never carry handles). Raises Malformed for anything off the schema."""
    if depth > MAX_DEPTH:
        raise Malformed("value nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if len(str(abs(value))) > MAX_INT_DIGITS:
            raise Malformed("integer out of range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Malformed("a non-finite float outside its marker")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise Malformed(f"string of {len(value)} characters is over the limit of {MAX_STRING}")
        return value
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise Malformed("list too long")
        return [decode(v, resolve, depth + 1) for v in value]
    if not isinstance(value, dict) or len(value) not in (1, 2):
        raise Malformed(f"unexpected JSON value of type {type(value).__name__}")
    tag = next(iter(value))
    body = value[tag]
    if tag == "$o" and isinstance(body, str):
        shape = value.get("shape")
        if len(value) == 2 and not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
            raise Malformed("opaque marker with a bad shape")
        return Opaque(body[:OPAQUE_TEXT], tuple(shape) if isinstance(shape, list) else None)
    if len(value) != 1:
        raise Malformed(f"tagged value {tag!r} with extra fields")
    if tag == "$a":
        return _decode_array(body)
    if tag == "$g":
        if not (isinstance(body, list) and len(body) == 2 and body[0] in ALLOWED_DTYPES and isinstance(body[1], str)):
            raise Malformed("bad numpy scalar")
        import numpy as np

        raw = _b64(body[1])
        if len(raw) != np.dtype(body[0]).itemsize:
            raise Malformed("numpy scalar of the wrong size")
        return np.frombuffer(raw, dtype=body[0])[0]
    if tag == "$t" and isinstance(body, list):
        return tuple(decode(v, resolve, depth + 1) for v in body)
    if tag == "$d" and isinstance(body, list):
        out = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise Malformed("dict entries must be [key, value] pairs")
            key = decode(pair[0], resolve, depth + 1)
            if not isinstance(key, str | int | float | bool | tuple) and key is not None:
                raise Malformed("dict key is not plain data")
            out[key] = decode(pair[1], resolve, depth + 1)
        return out
    if tag == "$s" and isinstance(body, list) and len(body) == 3:
        parts = [decode(v, resolve, depth + 1) for v in body]
        if not all(p is None or type(p) is int for p in parts):
            raise Malformed("slice bounds must be integers or null")
        return slice(*parts)
    if tag == "$e" and body is None:
        return Ellipsis
    if tag == "$f" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "$h" and type(body) is int and resolve is not None:
        return resolve(body)
    raise Malformed(f"unknown or malformed tagged value {tag!r}")


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise Malformed(f"bad base64 data: {error}") from None


def _decode_array(body: Any) -> np.ndarray:
    import numpy as np

    if not (isinstance(body, list) and len(body) == 3):
        raise Malformed("array must be [dtype, shape, data]")
    dtype, shape, data = body
    if dtype not in ALLOWED_DTYPES:
        raise Malformed(f"array dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or len(shape) > 32 or not all(type(n) is int and 0 <= n < 2**31 for n in shape):
        raise Malformed("array shape must be a list of non-negative integers")
    count = math.prod(shape)
    if count > MAX_ARRAY_ELEMENTS:
        raise Malformed(f"array of {count} elements is over the limit of {MAX_ARRAY_ELEMENTS}")
    if not isinstance(data, str):
        raise Malformed("array data must be a base64 string")
    raw = _b64(data)
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise Malformed(f"array data holds {len(raw)} bytes; shape {shape} of {dtype} needs "
                        f"{count * np.dtype(dtype).itemsize}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


# ------------------------------------------------------------------------------------------------ answers
DEPTH_CHUNK = 1 << 20
_ESCAPE_PAIR = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))


def nesting_depth(line: bytes) -> int:
    """The deepest [ / { nesting of a JSON text outside its strings, found without parsing it, in bounded memory
    (at most two copies of the line, then chunks of 1 MiB with about 30 bytes of scratch per byte of a chunk).

    Two C-speed passes first leave only what decides nesting: every escape pair (a backslash and the byte it
    escapes) is removed, so no quote left is escaped, then every byte but quotes and brackets. An answer of
    arrays, mostly base64 inside strings, shrinks to its few dozen structural bytes."""
    import numpy as np

    structure = _ESCAPE_PAIR.sub(b"", line).translate(None, _NOT_STRUCTURE)
    depth = deepest = 0
    inside = False  # within a string
    data = np.frombuffer(structure, dtype=np.uint8)
    for start in range(0, len(data), DEPTH_CHUNK):
        chunk = data[start:start + DEPTH_CHUNK]
        quotes = chunk == 0x22
        toggles = np.cumsum(quotes, dtype=np.int64)
        # A byte is inside a string when an odd number of quotes precede it (counting from the state the chunk
        # starts in); the quotes themselves are never brackets.
        within = ((toggles - quotes) % 2 == 1) ^ inside
        steps = (((chunk == 0x5B) | (chunk == 0x7B)).astype(np.int8) - ((chunk == 0x5D) | (chunk == 0x7D))) * ~within
        if steps.any():
            levels = depth + np.cumsum(steps, dtype=np.int64)
            deepest = max(deepest, int(levels.max()))
            depth = int(levels[-1])
        inside = bool(inside ^ (int(toggles[-1]) % 2 == 1))
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise Malformed(f"integer of {len(text)} digits is out of range")
    return int(text)


def _bounded_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise Malformed(f"number {text[:40]} overflows a float")
    return number


def _refuse_constant(name: str) -> Any:
    raise Malformed(f"non-standard JSON constant {name}")


def parse_json(line: bytes, max_bytes: int = MAX_ANSWER_BYTES) -> Any:
    """Untrusted JSON text to Python, with every bound checked first; only Malformed escapes."""
    if len(line) > max_bytes:
        raise Malformed(f"answer of {len(line)} bytes is over the limit of {max_bytes}")
    depth = nesting_depth(line)
    if depth > MAX_DEPTH:
        raise Malformed(f"answer nested {depth} deep (at most {MAX_DEPTH})")
    try:
        return json.loads(line, parse_int=_bounded_int, parse_float=_bounded_float,
                          parse_constant=_refuse_constant)
    except Malformed:
        raise
    except (ValueError, RecursionError, MemoryError) as error:
        raise Malformed(f"answer is not JSON: {type(error).__name__}: {str(error)[:200]}") from None


@dataclass(frozen=True)
class RemoteFailure:
    """An exception the student's code raised, as data: where it happened and what it said."""

    type: str
    message: str
    frames: list[dict[str, Any]]
    op: int  # the request (1-based count) that raised


ANSWER_KINDS = frozenset({"ok", "import", "count", "values", "error", "busy"})


def decode_answer(line: bytes) -> dict[str, Any]:
    """One answer line from the server, checked against the schema: {"r": kind, ...}."""
    answer = parse_json(line)
    if not isinstance(answer, dict) or answer.get("r") not in ANSWER_KINDS:
        raise Malformed(f"not an answer: {line[:120]!r}")
    kind = answer["r"]
    if kind == "values":
        if not isinstance(answer.get("values"), list):
            raise Malformed("values answer without a list of values")
        return {"r": kind, "values": [decode(v) for v in answer["values"]]}
    if kind == "count":
        if type(answer.get("n")) is not int or not 0 <= answer["n"] <= MAX_UNPACK:
            raise Malformed("count answer without a count in range")
        return {"r": kind, "n": answer["n"]}
    if kind == "import":
        path = answer.get("path")
        error = answer.get("error")
        if not (isinstance(path, str) and len(path) < 200) and not isinstance(error, str):
            raise Malformed("import answer without a path or an error")
        has = answer.get("has", [])
        if not (isinstance(has, list) and len(has) <= 64 and all(isinstance(h, bool) for h in has)):
            raise Malformed("import answer with a bad list of names found")
        return {"r": kind, "path": path if isinstance(path, str) else None, "has": has,
                "error": error[:2000] if isinstance(error, str) else None,
                "missing": answer.get("missing") is True}
    if kind == "busy":
        if type(answer.get("op")) is not int:
            raise Malformed("busy answer without an op number")
        return {"r": kind, "op": answer["op"]}
    if kind == "error":
        return {"r": kind, "failure": _failure(answer.get("error"))}
    return {"r": kind}


MAX_FRAME_ARGS = 32  # parameter names kept per frame of a traceback


def parameter_names(code: Any) -> list[str]:
    """The parameter names of a frame's function (positional, keyword-only, *args, **kwargs), read from its code
    object: metadata, none of the values. The trusted side's blame (capstone_tests/blame.py) follows a wrong value
    up the frames that only handed it on, which it tells by a frame's failing line using one of these."""
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)  # CO_VARARGS, CO_VARKEYWORDS
    return [str(name)[:64] for name in code.co_varnames[:count]][:MAX_FRAME_ARGS]


def _failure(error: Any) -> RemoteFailure:
    if not isinstance(error, dict):
        raise Malformed("error answer without an error")
    frames = error.get("frames") if isinstance(error.get("frames"), list) else []
    clean = []
    for item in frames[:20]:
        if isinstance(item, dict):
            frame = {"file": str(item.get("file", ""))[:300], "line": item.get("line") if type(
                item.get("line")) is int else 0, "function": str(item.get("function", ""))[:200],
                "code": str(item.get("code", ""))[:200]}
            if isinstance(item.get("args"), list):
                frame["args"] = [a[:64] for a in item["args"][:MAX_FRAME_ARGS] if isinstance(a, str)]
            clean.append(frame)
    op = error.get("op")
    return RemoteFailure(str(error.get("type", "Exception"))[:100], str(error.get("message", ""))[:2000], clean,
                         op if type(op) is int else 0)
