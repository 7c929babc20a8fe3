"""Helpers every probe uses to read a student's objects, the same way whether they are local or remote.

In the plain-pytest form the student's objects live in this process; in the grader they live in the student's
sandbox and probes hold proxies (boundary/proxy.py). Python cannot ask a proxy `x is None`, `a is b`,
`isinstance(x, C)` or `type(x)`, so probes ask these helpers instead; they answer identically in both forms.
Each read of a remote object waits for the student's process: read what you need, once, and prefer
`later(...)` for what only goes into the artefacts (read in one batch at the end).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..boundary.proxy import later as _later
from ..boundary.proxy import view


def rng(challenge: dict[str, Any], stream: int = 0) -> np.random.Generator:
    return np.random.default_rng([challenge["seed"], stream])


def values(x: Any) -> Any:
    """A Tensor's data (or a plain array / number) as numpy, keeping its dtype; None stays None."""
    return view("values", x)


def grad_of(x: Any) -> Any:
    """A tensor's gradient as numpy (editions store arrays or Tensors), or None when it has none."""
    return view("grad_of", x)


def values_later(x: Any) -> Any:
    """values(x) for an artefact: for a remote x, read with all the others when the probe returns."""
    return _later("values", x)


def grad_later(x: Any) -> Any:
    """grad_of(x) for an artefact, read with all the others when the probe returns."""
    return _later("grad_of", x)


def values_snapshot(x: Any) -> Any:
    """values_later(x), but copied as they are now: for reading one tensor again and again while the student's
    code updates it in place (an optimizer's steps). Read with the others when the probe returns."""
    return _later("values_copy", x)


def grad_snapshot(x: Any) -> Any:
    """grad_later(x), copied as it is now (a later backward may add into the same array)."""
    return _later("grad_copy", x)


def view_later(name: str, *args: Any) -> Any:
    """adaptors.<name>(*args) (a view such as "to_float", "is_instance", "length", "type_name", "first") without
    waiting: for remote objects a Proxy of its result, read with the artefacts or by `tt.materialize` (one round
    trip for a whole list of them); for local ones, the result at once."""
    return _later(name, *args)


def is_none(x: Any) -> bool:
    return bool(view("is_none", x))


def same(a: Any, b: Any) -> bool:
    """`a is b` for the student's objects."""
    return bool(view("same", a, b))


def type_name(x: Any) -> str:
    return str(view("type_name", x))


def is_instance(x: Any, kind: Any) -> bool:
    """isinstance(x, kind): kind is a student class (from the resolver) or a builtin's name ("dict", "list",
    "tuple", "sequence", "int", "float", "str", "bool", "ndarray", "number")."""
    return bool(view("is_instance", x, kind))


def has(x: Any, name: str) -> bool:
    return bool(view("has", x, name))


def is_callable(x: Any) -> bool:
    return bool(view("is_callable", x))


def plain(x: Any) -> Any:
    """A value the student's code returned (a number, a dict, a list of ints...) as plain data; an object that is
    not data reads as a `protocol.Opaque` describing its type."""
    return view("plain", x)


def trainable(parameters: Any) -> list[Any]:
    """The parameter list, each marked requires_grad (one edition leaves it unset)."""
    params = list(iter(parameters))  # iter first: a proxy's len() would cost a round trip of its own
    for p in params:
        p.requires_grad = True
    return params


def float32(array: Any) -> np.ndarray:
    return np.asarray(array, dtype=np.float32)
