"""Module 18 (acceleration) checks: products against a float64 matmul of the same float32 inputs; GELU
against the exact x * Phi(x).

Shapes are chosen per test so that tiles do not divide them (the classic off-by-one of a tiled loop),
divide them exactly, exceed them, or meet a vector. GELU accepts every formula the course's editions
teach: the tanh approximation (within 0.001 of exact), the exact erf form, and x * sigmoid(1.702 x)
(within 0.021); 0.025 fails a wrong constant or a different activation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..probes import m18_acceleration as probes
from ..registry import check
from . import expect

GELU_TOLERANCE = 0.025


def _expect_product(challenge: dict[str, Any], artefacts: dict[str, Any], call: str) -> None:
    a, b = probes.matrices(challenge)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    got = expect.array(artefacts, "product", shape=expected.shape, what=call, module=18)
    tile = {"tile_size": challenge["tile"]} if "tile" in challenge else {}
    expect.close(got, expected, f"{call} (vs a float64 matmul)", module=18, rtol=1e-4, atol=1e-4,
                 given={"a": a, "b": b, **tile})


def _shapes(r: np.random.Generator, low: int = 3, high: int = 41) -> dict[str, Any]:
    return {"m": int(r.integers(low, high)), "k": int(r.integers(low, high)), "n": int(r.integers(low, high))}


@check(module=18, challenge=_shapes)
def test_vectorized_matmul(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    _expect_product(challenge, artefacts, f"vectorized_matmul of ({challenge['m']}, {challenge['k']}) @ "
                                          f"({challenge['k']}, {challenge['n']})")


def _call(challenge: dict[str, Any]) -> str:
    m, k, n, tile = challenge["m"], challenge["k"], challenge["n"], challenge["tile"]
    return f"tiled_matmul of ({m}, {k}) @ ({k}, {n}) with tile size {tile}"


def _uneven(r: np.random.Generator) -> dict[str, Any]:
    tile = int(r.integers(2, 10))

    def size() -> int:  # not a multiple of the tile: the last tile is partial
        return tile * int(r.integers(0, 4)) + int(r.integers(1, tile))

    return {"tile": tile, "m": size(), "k": size(), "n": size()}


@check(module=18, challenge=_uneven)
def test_tiled_matmul_uneven_tiles(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    _expect_product(challenge, artefacts, _call(challenge) + " (the last tile of each axis is partial)")


def _exact(r: np.random.Generator) -> dict[str, Any]:
    tile = int(r.integers(2, 7))
    return {"tile": tile, "m": tile * int(r.integers(1, 5)), "k": tile * int(r.integers(1, 5)),
            "n": tile * int(r.integers(1, 5))}


@check(module=18, challenge=_exact)
def test_tiled_matmul_exact_tiles(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    _expect_product(challenge, artefacts, _call(challenge))


def _larger(r: np.random.Generator) -> dict[str, Any]:
    return {"tile": int(r.integers(64, 200)), **_shapes(r, 2, 21)}


@check(module=18, challenge=_larger)
def test_tiled_matmul_tile_larger_than_matrix(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    _expect_product(challenge, artefacts, _call(challenge) + " (one tile covers everything)")


def _vector(r: np.random.Generator) -> dict[str, Any]:
    shapes = {"m": int(r.integers(2, 12)), "k": int(r.integers(3, 21)), "n": int(r.integers(2, 12))}
    shapes["m" if r.random() < 0.5 else "n"] = 1
    return {"tile": int(r.integers(2, 6)), **shapes}


@check(module=18, challenge=_vector)
def test_tiled_matmul_vector_shapes(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    _expect_product(challenge, artefacts, _call(challenge) + " (a row or column vector)")


def _exact_gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _expect_gelu(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    x = probes.gelu_inputs(challenge).astype(np.float64)
    raw = artefacts.get("output")
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "f" and not np.all(np.isfinite(raw)):
        bad = x.reshape(-1)[~np.isfinite(raw.reshape(-1))] if raw.shape == x.shape else x.reshape(-1)
        focus = tuple(int(i) for i in np.argwhere(~np.isfinite(raw))[0]) if raw.shape == x.shape else None
        raise expect.CheckFailed(
            f"fused_gelu returned NaN or infinity (e.g. at x = {bad[0]:.4g}): the formula overflows for large |x|; "
            f"the tanh form 0.5 * x * (1 + tanh(...)) stays finite", 18,
            example=expect.example(_exact_gelu(x), raw, {"x": x}, focus))
    got = expect.array(artefacts, "output", shape=x.shape, what="fused_gelu(x)", module=18)
    exact = _exact_gelu(x)
    error = np.abs(got - exact)
    worst = int(np.argmax(error))
    if float(error.max()) > GELU_TOLERANCE:
        focus = tuple(int(i) for i in np.unravel_index(worst, x.shape))
        raise expect.CheckFailed(
            f"fused_gelu is off by {error.max():.4g} at x = {x.reshape(-1)[worst]:.4g} (got "
            f"{got.reshape(-1)[worst]:.4g}, GELU is {exact.reshape(-1)[worst]:.4g}): expected "
            f"0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))", 18,
            example=expect.example(exact, got, {"x": x}, focus))


def _moderate(r: np.random.Generator) -> dict[str, Any]:
    return {"shape": [int(r.integers(2, 5)), int(r.integers(2, 5)), int(r.integers(3, 9))], "low": -5.0,
            "high": 5.0}


@check(module=18, challenge=_moderate)
def test_fused_gelu_values(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    _expect_gelu(challenge, artefacts)


def _extremes(r: np.random.Generator) -> dict[str, Any]:
    low = float(r.uniform(6.0, 12.0))
    sign = 1.0 if r.random() < 0.5 else -1.0
    bounds = sorted([sign * low, sign * 60.0])
    return {"shape": [int(r.integers(3, 9)), int(r.integers(3, 9))], "low": bounds[0], "high": bounds[1]}


@check(module=18, challenge=_extremes)
def test_fused_gelu_extremes(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    # Far from 0 GELU is x (positive side) or 0 (negative side); a formula that overflows gives NaN here.
    _expect_gelu(challenge, artefacts)
