"""Module 11 (embeddings) checks: lookups equal weight rows, gradients accumulate per token id, the learned
positional table is added position by position and receives gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..probes import m11_embeddings as probes
from ..registry import check
from . import expect


def _sizes(r: np.random.Generator) -> dict[str, Any]:
    seq = int(r.integers(3, 7))
    return {"vocab": int(r.integers(5, 13)), "dim": int(r.integers(3, 9)), "batch": int(r.integers(2, 4)),
            "seq": seq, "max_len": seq + int(r.integers(2, 7))}


def _accumulated(challenge: dict[str, Any]) -> np.ndarray:
    """d(sum(weight[ids] * g))/d weight: each id's row collects the gradient of every position holding it."""
    shape = (challenge["batch"], challenge["seq"])
    expected = np.zeros((challenge["vocab"], challenge["dim"]))
    np.add.at(expected, probes.token_ids(challenge, shape).reshape(-1),
              probes.upstream(challenge, (*shape, challenge["dim"])).reshape(-1, challenge["dim"]))
    return expected


def _lookup_inputs(challenge: dict[str, Any]) -> dict[str, Any]:
    """The ids looked up and the gradient sent into the lookup's output, for a failure's example."""
    shape = (challenge["batch"], challenge["seq"])
    return {"ids": probes.token_ids(challenge, shape),
            "upstream": probes.upstream(challenge, (*shape, challenge["dim"]))}


def _table_shapes_ok(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    shapes = [tuple(s) for s in artefacts["parameter_shapes"]]
    expect.that(len(shapes) > 0,
                "PositionalEncoding.parameters() is empty: the encoding must be learned, one trainable vector per "
                "position", 11)
    wanted = challenge["max_len"] * challenge["dim"]
    expect.that(any(int(np.prod(s)) == wanted for s in shapes),
                f"PositionalEncoding({challenge['max_len']}, {challenge['dim']}) has parameters of shapes {shapes}: "
                f"expected a learned table of shape (max_seq_len, embed_dim) = "
                f"({challenge['max_len']}, {challenge['dim']})", 11)


@check(module=11, challenge=_sizes)
def test_embedding_lookup(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    weight = expect.array(artefacts, "weight", shape=(challenge["vocab"], challenge["dim"]), module=11,
                          what="Embedding.weight (vocab_size, embed_dim)")
    ids = probes.token_ids(challenge, (challenge["batch"], challenge["seq"]))
    out = expect.array(artefacts, "out", module=11, what="Embedding output")
    expect.close(out, weight[ids], "Embedding(ids) (row ids[b, s] of the weight for every position)", module=11,
                 rtol=0, atol=1e-6, given={"ids": ids, "weight": weight})


@check(module=11, challenge=_sizes)
def test_embedding_shapes(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    v, d, b, s = challenge["vocab"], challenge["dim"], challenge["batch"], challenge["seq"]
    expect.that(tuple(artefacts["weight_shape"]) == (v, d),
                f"Embedding({v}, {d}).weight has shape {tuple(artefacts['weight_shape'])}, expected ({v}, {d})", 11)
    expect.that([tuple(p) for p in artefacts["parameter_shapes"]] == [(v, d)],
                f"Embedding.parameters() gives shapes {artefacts['parameter_shapes']}, expected just the weight "
                f"({v}, {d})", 11)
    expect.that(tuple(artefacts["one_d"]) == (s, d),
                f"Embedding of ids of shape ({s},) has shape {tuple(artefacts['one_d'])}, expected ({s}, {d})", 11)
    expect.that(tuple(artefacts["two_d"]) == (b, s, d),
                f"Embedding of ids of shape ({b}, {s}) has shape {tuple(artefacts['two_d'])}, expected "
                f"({b}, {s}, {d}): the output keeps the ids' shape and appends embed_dim", 11)


@check(module=11, challenge=_sizes)
def test_embedding_gradient_accumulates(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    expected = _accumulated(challenge)
    got = expect.array(artefacts, "weight_grad", shape=expected.shape, module=11, what="Embedding.weight.grad")
    expect.close(got, expected, "Embedding.weight.grad (a token id used at several positions must receive the "
                 "sum of their gradients, e.g. np.add.at, not an assignment that keeps only the last)", module=11,
                 rtol=1e-4, atol=1e-5, given=_lookup_inputs(challenge))


@check(module=11, challenge=_sizes)
def test_positional_encoding_is_added(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    _table_shapes_ok(challenge, artefacts)
    expect.that(bool(artefacts["found_table"]), "the position table could not be set", 11)
    table = probes.table(challenge).astype(np.float64)
    x = probes.inputs(challenge).astype(np.float64)
    out = expect.array(artefacts, "out", shape=x.shape, module=11, what="PositionalEncoding output")
    expect.close(out, x + table[None, :challenge["seq"]],
                 "PositionalEncoding(x) (x plus row p of the position table at every position p, the same rows "
                 "for every batch element)", module=11, rtol=1e-5, atol=1e-5, given={"x": x, "table": table})
    shorter = expect.array(artefacts, "shorter", shape=(1, challenge["seq"] - 1, challenge["dim"]), module=11,
                           what="PositionalEncoding output for a shorter sequence")
    expect.close(shorter, table[None, :challenge["seq"] - 1],
                 "PositionalEncoding of a shorter sequence (must use the first seq_len rows of the table)",
                 module=11, rtol=1e-5, atol=1e-5,
                 given={"x": f"zeros (1, {challenge['seq'] - 1}, {challenge['dim']})", "table": table})


@check(module=11, challenge=_sizes)
def test_positional_encoding_is_learned(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    _table_shapes_ok(challenge, artefacts)
    g = probes.upstream(challenge, (challenge["batch"], challenge["seq"], challenge["dim"])).astype(np.float64)
    expect.that(artefacts["table_grad"] is not None,
                "the position table received no gradient: PositionalEncoding must add its table with a Tensor "
                "operation that autograd tracks (not on .data)", 11)
    grad = expect.array(artefacts, "table_grad", module=11, what="the position table's grad")
    expected = np.zeros((challenge["max_len"], challenge["dim"]))
    expected[:challenge["seq"]] = g.sum(axis=0)
    given = {"x": probes.inputs(challenge), "upstream": g}
    expect.close(grad.reshape(expected.shape), expected,
                 "the position table's gradient (rows used by the sequence get the gradient summed over the batch, "
                 "unused rows get 0)", module=11, rtol=1e-4, atol=1e-5, given=given)
    expect.close(expect.array(artefacts, "x_grad", shape=g.shape, module=11, what="the input's grad"), g,
                 "the gradient of PositionalEncoding's input (addition passes it through unchanged)", module=11,
                 rtol=1e-4, atol=1e-5, given=given)


@check(module=11, challenge=_sizes)
def test_embedding_gradient_through_positional_encoding(challenge: dict[str, Any],
                                                        artefacts: dict[str, Any]) -> None:
    expected = _accumulated(challenge)
    expect.that(artefacts["weight_grad"] is not None,
                "Embedding.weight got no gradient through PositionalEncoding: the addition must keep the graph "
                "back to the embedding lookup", 11)
    got = expect.array(artefacts, "weight_grad", shape=expected.shape, module=11, what="Embedding.weight.grad")
    expect.close(got, expected, "Embedding.weight.grad through PositionalEncoding", module=11, rtol=1e-4, atol=1e-5,
                 given=_lookup_inputs(challenge))
