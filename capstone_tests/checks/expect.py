"""Small assertions for checks: each raises CheckFailed with a message a student can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from ..verdict import CheckFailed
from .example import make_example

# The inputs of the values being checked, set by `given(...)`: a failure of close() or equal() inside the block
# shows them in its example. A context variable, so a check's helpers need not pass them down.
_GIVEN: ContextVar[dict[str, Any] | None] = ContextVar("given", default=None)


@contextmanager
def given(**inputs: Any) -> Iterator[None]:
    """Name the inputs the values checked inside the block were computed from (`with expect.given(x=x, dim=1):`):
    a value that is wrong then fails with a worked example, input, expected and got (example.py). Nested blocks
    add to the outer one's inputs."""
    token = _GIVEN.set({**(_GIVEN.get() or {}), **inputs})
    try:
        yield
    finally:
        _GIVEN.reset(token)


def example(expected: Any, got: Any, given: dict[str, Any] | None = None,
            focus: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The worked example for a failure a check raises itself (`CheckFailed(..., example=expect.example(...))`);
    the inputs are `given`, else those of the enclosing `given(...)` block."""
    return make_example(_GIVEN.get() if given is None else given, expected, got, focus)


def worst(got: np.ndarray, expected: np.ndarray) -> tuple[int, ...]:
    """The index where two arrays of one shape differ most (NaN and infinity count as the most)."""
    error = np.abs(np.asarray(got, dtype=np.float64) - np.asarray(expected, dtype=np.float64))
    error = np.where(np.isfinite(error), error, np.inf)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape)) if error.size else ()


def that(condition: bool, message: str, module: int | None = None, *, hint: str = "", **evidence: Any) -> None:
    """`hint`: what to do, for a failure the module's general hint does not fit. A failure whose evidence holds
    both `expected` and `got` carries their worked example too."""
    if not condition:
        if "expected" in evidence and "got" in evidence and "example" not in evidence:
            evidence["example"] = example(evidence["expected"], evidence["got"])
        raise CheckFailed(message, module, hint=hint, **evidence)


def equal(got: Any, expected: Any, message: str, module: int | None = None, *, hint: str = "",
          given: dict[str, Any] | None = None, **evidence: Any) -> None:
    """`got == expected` exactly (arrays element by element, same shape), else fail with `message` and a worked
    example centred on the first difference; `given`: the inputs (default: those of the enclosing `given(...)`)."""
    if isinstance(got, np.ndarray) or isinstance(expected, np.ndarray):
        got_array, expected_array = np.asarray(got), np.asarray(expected)
        if got_array.shape == expected_array.shape and np.array_equal(got_array, expected_array):
            return
        differ = np.argwhere(got_array != expected_array) if got_array.shape == expected_array.shape else []
        focus = tuple(int(i) for i in differ[0]) if len(differ) else None
    else:
        if got == expected:
            return
        focus = None
    raise CheckFailed(message, module, hint=hint, **evidence, example=example(expected, got, given, focus))


@contextmanager
def hinted(hint: str) -> Iterator[None]:
    """Give every failure inside the block this hint (unless it names its own): for a test whose module's
    general hint would point elsewhere."""
    try:
        yield
    except CheckFailed as failure:
        verdict = failure.verdict
        if verdict.hint:
            raise
        raise CheckFailed(verdict.message, verdict.module, hint=hint, **verdict.evidence) from None


def array(artefacts: dict[str, Any], key: str, *, shape: tuple[int, ...] | None = None,
          module: int | None = None, what: str | None = None) -> np.ndarray:
    """A finite numeric array artefact, as float64; names what is wrong with it otherwise."""
    what = what or key
    if key not in artefacts:
        raise CheckFailed(f"{what} was not produced", module)
    value = artefacts[key]
    if isinstance(value, dict) and "__unsupported__" in value:
        raise CheckFailed(f"{what} is a {value['__unsupported__']}, not a float32 array", module)
    if value is None:
        raise CheckFailed(f"{what} is None (no gradient or no value was computed)", module)
    try:
        result = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"{what} is not numeric: {error}", module) from error
    if shape is not None and result.shape != tuple(shape):
        raise CheckFailed(f"{what} has shape {result.shape}, expected {tuple(shape)}", module,
                          expected_shape=tuple(shape), got_shape=result.shape)
    if not np.all(np.isfinite(result)):
        raise CheckFailed(f"{what} contains NaN or infinity", module, got=_sample(result))
    return result


def number(artefacts: dict[str, Any], key: str, *, module: int | None = None, what: str | None = None) -> float:
    value = array(artefacts, key, module=module, what=what)
    if value.size != 1:
        raise CheckFailed(f"{what or key} should be a single number, got shape {value.shape}", module)
    return float(value.reshape(-1)[0])


def close(got: np.ndarray, expected: np.ndarray, what: str, *, module: int | None = None,
          rtol: float = 1e-4, atol: float = 1e-5, given: dict[str, Any] | None = None) -> None:
    """`got` equals `expected` within the tolerances, else fail with the largest difference and a worked example
    centred on it; `given`: the inputs (default: those of the enclosing `given(...)` block)."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise CheckFailed(f"{what} has shape {got.shape}, expected {expected.shape}", module,
                          expected_shape=expected.shape, got_shape=got.shape)
    if np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=False):
        return
    error = np.abs(got - expected)
    worst = np.unravel_index(int(np.nanargmax(np.where(np.isnan(error), np.inf, error))), error.shape) \
        if error.ndim else ()
    raise CheckFailed(
        f"{what} is wrong: largest difference {float(np.nanmax(error)) if error.size else 0:.4g} "
        f"at index {tuple(int(i) for i in worst)}",
        module,
        expected=_sample(expected),
        got=_sample(got),
        shape=got.shape,  # with the samples, shows a pattern such as one row repeated (grader/diagnostics.py)
        example=example(expected, got, given, tuple(int(i) for i in worst)),
    )


def dtype_is_float32(artefacts: dict[str, Any], key: str, what: str, module: int | None = None) -> None:
    value = artefacts.get(key)
    dtype = getattr(value, "dtype", None)
    that(dtype == np.float32, f"{what} is stored as {dtype}, expected float32", module)


def _sample(values: np.ndarray, limit: int = 6) -> list[float] | float:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat.size == 1:
        return round(float(flat[0]), 6)
    return [round(float(v), 6) for v in flat[:limit]]
