"""Proxies: the student's objects as the probes see them when the objects live in another process.

A `Proxy` stands for one object in the object server. Attribute reads, calls and operators on it send a request
and return a new Proxy at once (the handle is ours, so nothing waits); only turning it into a Python value waits
for an answer: `float(p)`, `bool(p)`, `len(p)`, `list(p)`, `np.asarray(p)`, and the views of `adaptors` called
through `view()`. So a probe reads like ordinary TinyTorch code, and a training loop costs one round trip where it
reads a number, not one per operation.

What a proxy cannot imitate are Python's identity and type tests on the object itself (`x is None`, `a is b`,
`isinstance(x, ...)`, `type(x)`): probes ask those through `view("is_none", x)` and friends, which answer the same
way in both forms of the suites. `RemoteResolver` is the Resolver of the plain form, for a remote package.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..resolver import MODULE_OF_NAME, MODULES_BY_NUMBER, ModuleMissing
from .inside import adaptors, protocol
from .session import Channel, MalformedAnswer, RemoteError

LABEL_LIMIT = 80


class Proxy:
    __slots__ = ("_channel", "_id", "_label")
    __array_ufunc__ = None  # numpy defers to our reflected operators instead of converting us

    def __init__(self, channel: Channel, handle: int, label: str) -> None:
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_id", handle)
        object.__setattr__(self, "_label", label[:LABEL_LIMIT])

    # ------------------------------------------------------------------------------------ pipelined
    def __getattr__(self, name: str) -> Proxy:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # numpy, copy and pickle probe for dunders: we have none of theirs
        return _op(self._channel, "get", {"obj": self._id, "name": name}, f"{self._label}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._channel.send({"op": "set", "obj": self._id, "name": name, "value": to_wire(value)},
                           f"{self._label}.{name} = ...")

    def __call__(self, *args: Any, **kwargs: Any) -> Proxy:
        return _op(self._channel, "call", {"obj": self._id, "args": to_wire(list(args)),
                                           "kwargs": to_wire(kwargs)}, f"{self._label}(...)")

    def __getitem__(self, key: Any) -> Proxy:
        return _operator("getitem", self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        _operator("setitem", self, key, value)

    def __add__(self, other: Any) -> Proxy:
        return _operator("add", self, other)

    def __radd__(self, other: Any) -> Proxy:
        return _operator("add", other, self)

    def __sub__(self, other: Any) -> Proxy:
        return _operator("sub", self, other)

    def __rsub__(self, other: Any) -> Proxy:
        return _operator("sub", other, self)

    def __mul__(self, other: Any) -> Proxy:
        return _operator("mul", self, other)

    def __rmul__(self, other: Any) -> Proxy:
        return _operator("mul", other, self)

    def __truediv__(self, other: Any) -> Proxy:
        return _operator("truediv", self, other)

    def __rtruediv__(self, other: Any) -> Proxy:
        return _operator("truediv", other, self)

    def __matmul__(self, other: Any) -> Proxy:
        return _operator("matmul", self, other)

    def __rmatmul__(self, other: Any) -> Proxy:
        return _operator("matmul", other, self)

    def __pow__(self, other: Any) -> Proxy:
        return _operator("pow", self, other)

    def __neg__(self) -> Proxy:
        return _operator("neg", self)

    def __lt__(self, other: Any) -> Proxy:
        return _operator("lt", self, other)

    def __le__(self, other: Any) -> Proxy:
        return _operator("le", self, other)

    def __gt__(self, other: Any) -> Proxy:
        return _operator("gt", self, other)

    def __ge__(self, other: Any) -> Proxy:
        return _operator("ge", self, other)

    def __eq__(self, other: Any) -> Proxy:  # type: ignore[override]
        return _operator("eq", self, other)

    def __ne__(self, other: Any) -> Proxy:  # type: ignore[override]
        return _operator("ne", self, other)

    def __hash__(self) -> int:
        return hash((id(self._channel), self._id))

    # ------------------------------------------------------------------------------------ reads (wait)
    def __bool__(self) -> bool:
        return bool(view("to_bool", self))

    def __float__(self) -> float:
        return float(view("to_float", self))

    def __int__(self) -> int:
        return int(view("to_int", self))

    def __index__(self) -> int:
        return int(view("to_int", self))

    def __len__(self) -> int:
        try:
            return int(view("length", self))
        except RemoteError as error:
            if error.failure.type == "TypeError":  # no len(): as locally, so list() goes on to iterate
                raise TypeError(error.failure.message) from None
            raise

    def __iter__(self) -> Any:
        return iter(self._channel_unpack())

    def __contains__(self, item: Any) -> bool:
        return bool(fetch(_operator("contains", self, item)))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = view("as_array", self)
        if not isinstance(value, np.ndarray):
            value = np.array(value, dtype=object)
        return value if dtype is None else value.astype(dtype)

    def __repr__(self) -> str:
        return f"<student object {self._label}>"

    def __str__(self) -> str:
        return str(view("text", self))  # the student's own __str__, as str() of a local object

    def __del__(self) -> None:
        # The student's process keeps every object we have a handle to; let it go when we no longer can use it
        # (a training loop's losses and graphs would otherwise pile up until the test ends).
        self._channel.release(self._id)

    def _channel_unpack(self, limit: int = 10_000) -> list[Proxy]:
        channel = self._channel
        first = channel.new_handle(limit)
        count = channel.ask({"op": "unpack", "id": first, "obj": self._id, "limit": limit},
                            f"list({self._label})")["n"]
        return [Proxy(channel, first + i, f"{self._label}[{i}]") for i in range(count)]


def _op(channel: Channel, kind: str, fields: dict[str, Any], label: str) -> Proxy:
    handle = channel.new_handle()
    channel.send({"op": kind, "id": handle, **fields}, label)
    return Proxy(channel, handle, label)


def _operator(name: str, *args: Any) -> Proxy:
    channel = next(a._channel for a in args if isinstance(a, Proxy))
    label = name + "(" + ", ".join(a._label if isinstance(a, Proxy) else type(a).__name__ for a in args) + ")"
    return _op(channel, "operator", {"name": name, "args": to_wire(list(args))}, label)


def to_wire(value: Any) -> Any:
    """A request's argument as protocol JSON: proxies become handles, plain data stays; nothing else may cross."""
    if isinstance(value, Proxy):
        return {"$h": value._id}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    if isinstance(value, tuple):
        return {"$t": [to_wire(v) for v in value]}
    if isinstance(value, dict):
        return {"$d": [[to_wire(k), to_wire(v)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | float | str | slice | np.ndarray | np.generic) \
            or value is Ellipsis:
        return protocol.encode(value)
    raise TypeError(f"a probe tried to send {type(value).__name__} to the student's process: only data and "
                    "the student's own objects may cross")


# ------------------------------------------------------------------------------------------------ reads
def _channel_of(values: Any) -> Channel | None:
    if isinstance(values, Proxy):
        return values._channel
    if isinstance(values, list | tuple):
        for item in values:
            found = _channel_of(item)
            if found is not None:
                return found
    if isinstance(values, dict):
        for item in values.values():
            found = _channel_of(item)
            if found is not None:
                return found
    return None


def fetch(proxy: Proxy) -> Any:
    return fetch_all([proxy])[0]


def fetch_all(proxies: list[Proxy]) -> list[Any]:
    """The values of `proxies`, by value, in one round trip."""
    if not proxies:
        return []
    channel = proxies[0]._channel
    answer = channel.ask({"op": "fetch", "objs": [p._id for p in proxies]},
                         "reading " + ", ".join(p._label for p in proxies[:3]))
    got = answer["values"]
    if len(got) != len(proxies):
        raise MalformedAnswer(f"{len(got)} values answered for {len(proxies)} asked")
    return got


def view(name: str, *args: Any, **kwargs: Any) -> Any:
    """adaptors.<name>(*args) where the objects live, as a plain value (waits when they are remote)."""
    channel = _channel_of([list(args), kwargs])
    if channel is None:
        return adaptors.HELPERS[name](*args, **kwargs)
    return fetch(_op(channel, "helper", {"name": name, "args": to_wire(list(args)), "kwargs": to_wire(kwargs)},
                     f"{name}({', '.join(a._label if isinstance(a, Proxy) else type(a).__name__ for a in args)})"))


def later(name: str, *args: Any, **kwargs: Any) -> Any:
    """Like view(), but for remote objects a Proxy of the result, read with the artefacts (no wait now)."""
    channel = _channel_of([list(args), kwargs])
    if channel is None:
        return adaptors.HELPERS[name](*args, **kwargs)
    return _op(channel, "helper", {"name": name, "args": to_wire(list(args)), "kwargs": to_wire(kwargs)},
               f"{name}(...)")


def materialize(value: Any) -> Any:
    """`value` with every Proxy inside replaced by its value, all read in one round trip."""
    proxies: list[Proxy] = []

    def collect(item: Any) -> None:
        if isinstance(item, Proxy):
            proxies.append(item)
        elif isinstance(item, list | tuple):
            for inner in item:
                collect(inner)
        elif isinstance(item, dict):
            for inner in item.values():
                collect(inner)

    collect(value)
    if not proxies:
        return value
    found = dict(zip((id(p) for p in proxies), fetch_all(proxies), strict=True))

    def replace(item: Any) -> Any:
        if isinstance(item, Proxy):
            return found[id(item)]
        if isinstance(item, list):
            return [replace(inner) for inner in item]
        if isinstance(item, tuple):
            return tuple(replace(inner) for inner in item)
        if isinstance(item, dict):
            return {k: replace(v) for k, v in item.items()}
        return item

    return replace(value)


# ------------------------------------------------------------------------------------------------ resolver
class RemoteResolver:
    """The plain form's Resolver, for the package in the object server: the same names, proxies for objects."""

    package = "tinytorch"

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._modules: dict[int, Proxy] = {}
        self._names: dict[int, set[str]] = {}
        self.found_paths: dict[int, str] = {}

    def module(self, number: int) -> Proxy:
        if number in self._modules:
            return self._modules[number]
        course_module = MODULES_BY_NUMBER[number]
        handle = self.channel.new_handle()
        answer = self.channel.ask({"op": "import", "id": handle, "paths": list(course_module.paths),
                                   "names": list(course_module.names)}, f"import of module {number:02d}")
        if answer["path"] is None:
            raise ModuleMissing(course_module, answer["error"] or "the import failed")
        has = answer.get("has") or []
        self._names[number] = {n for n, ok in zip(course_module.names, has, strict=False) if ok is True}
        self._modules[number] = Proxy(self.channel, handle, f"tinytorch.{answer['path']}")
        self.found_paths[number] = answer["path"]
        return self._modules[number]

    def get(self, name: str) -> Proxy:
        course_module = MODULE_OF_NAME[name]
        loaded = self.module(course_module.number)
        if name not in self._names[course_module.number]:
            where = f"tinytorch.{self.found_paths[course_module.number]}"
            raise ModuleMissing(course_module, f"{where} has no name {name!r}")
        return _op(self.channel, "get", {"obj": loaded._id, "name": name}, name)

    def __getattr__(self, name: str) -> Any:
        if name in MODULE_OF_NAME:
            return self.get(name)
        raise AttributeError(name)

    def enable_autograd(self) -> None:
        autograd = self.module(5)
        if "enable_autograd" in self._names[5]:
            autograd.enable_autograd()

    def edition(self) -> str:
        """Which edition's paths were found (editions.py)."""
        from ..editions import detect

        return detect(self.found_paths).title

    # the probes' extras, shared with Resolver
    def new(self, container: str, *args: Any, **kwargs: Any) -> Proxy:
        return _op(self.channel, "helper", {"name": container, "args": to_wire(list(args)),
                                            "kwargs": to_wire(kwargs)}, f"{container}(...)")

    def seed_numpy(self, seed: int) -> None:
        self.channel.send({"op": "helper", "id": self.channel.new_handle(), "name": "seed_numpy",
                           "args": [int(seed)], "kwargs": {"$d": []}}, "numpy.random.seed(...)")

    def settle(self) -> None:
        """Wait until every call sent so far has run; raises the first error one of them raised."""
        self.channel.ask({"op": "sync"}, "the calls before this point")

    def materialize(self, value: Any) -> Any:
        return materialize(value)
