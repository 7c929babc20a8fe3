"""A failed check's worked example (capstone_tests/checks/example.py): small, JSON-safe, centred where the values
differ, whatever the check hands it; and the expectations that make one (close, equal, that, given)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from capstone_tests.checks import expect
from capstone_tests.checks.example import ITEMS, MAX_CHARS, example_lines, make_example
from capstone_tests.verdict import CheckFailed


def _json(example: dict[str, Any]) -> str:
    """The example as the API stores it: strict JSON (no NaN), and within the cap."""
    text = json.dumps(example, allow_nan=False)
    assert len(text) <= MAX_CHARS, f"{len(text)} characters: {text[:300]}"
    return text


def _failure(check: Any) -> dict[str, Any]:
    with pytest.raises(CheckFailed) as caught:
        check()
    return caught.value.verdict.evidence


def test_a_small_array_is_shown_whole_and_numbers_rounded() -> None:
    example = make_example({"x": np.array([[1 / 3, 2.0], [3.0, 4.0]]), "dim": 1}, np.float64(0.123456789),
                           np.array(2.5))
    _json(example)
    assert example["input"] == {"x": {"shape": [2, 2], "values": [[0.333333, 2.0], [3.0, 4.0]]}, "dim": 1}
    assert example["expected"] == 0.123457 and example["got"] == 2.5  # 0-d arrays and numpy scalars: numbers


def test_a_large_array_shows_the_row_where_expected_and_got_differ_most() -> None:
    x = np.arange(200.0).reshape(10, 20)
    expected = x * 2
    got = expected.copy()
    got[7, 15] += 1
    example = make_example({"x": x, "w": np.ones((20, 20))}, expected, got, focus=(7, 15))
    _json(example)
    assert example["expected"] == {"shape": [10, 20], "at": "[7, 11:19]",
                                   "values": [float(v) for v in expected[7, 11:19]]}
    assert example["got"]["at"] == "[7, 11:19]" and example["got"]["values"][4] == expected[7, 15] + 1
    # x shares the batch axis and the row with the output: the same window; w shares nothing: its first row.
    assert example["input"]["x"] == {"shape": [10, 20], "at": "[7, 11:19]", "values": list(x[7, 11:19])}
    assert example["input"]["w"]["at"] == "[0, 0:8]"


def test_an_input_that_shares_only_the_batch_axis_shows_the_same_batch_row() -> None:
    x = np.arange(30.0).reshape(3, 10)
    expected = np.zeros((3, 2))
    example = make_example({"x": x}, expected, expected + 1, focus=(2, 1))
    assert example["input"]["x"] == {"shape": [3, 10], "at": "[2, 0:8]", "values": list(x[2, :8])}
    assert example["expected"] == {"shape": [3, 2], "values": [[0.0, 0.0]] * 3}


def test_non_finite_values_become_strings_and_the_json_stays_strict() -> None:
    got = np.array([[np.nan, np.inf], [-np.inf, 1.0]])
    example = make_example({"x": [float("nan"), 1.0], "big": float("inf")}, np.ones((2, 2)), got)
    _json(example)
    assert example["got"]["values"] == [["nan", "inf"], ["-inf", 1.0]]
    assert example["input"] == {"x": {"shape": [2], "values": ["nan", 1.0]}, "big": "inf"}


def test_a_huge_array_is_capped_to_one_window() -> None:
    huge = np.random.default_rng(0).standard_normal((1000, 1000))
    example = make_example({"x": huge}, huge, huge + 1, focus=(999, 999))
    text = _json(example)
    assert example["got"]["at"] == "[999, 992:1000]" and len(example["got"]["values"]) == ITEMS
    assert len(text) < 600


def test_odd_values_are_shown_briefly_and_safely() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "Opaque(" + "z" * 500 + ")"

    objects = np.array([Opaque(), None, 3], dtype=object)
    example = make_example({"objects": objects, "text": "y" * 1000, "strings": np.array(["a", "b"]),
                            "ragged": [[1, 2], [3]], "flags": np.array([True, False]), "huge int": 2**80,
                            "complex": np.array([1 + 2j])},
                           Opaque(), {"a": 1})
    _json(example)
    shown = example["input"]
    assert shown["objects"]["shape"] == [3] and shown["objects"]["values"][1:] == [None, 3]
    assert len(shown["objects"]["values"][0]) <= 80 and shown["objects"]["values"][0].endswith("…")
    assert len(shown["text"]) == 80 and shown["strings"]["values"] == ["a", "b"]
    assert shown["ragged"] == [{"shape": [2], "values": [1, 2]}, {"shape": [1], "values": [3]}]
    assert shown["flags"]["values"] == [True, False] and shown["huge int"].startswith("1208925819")
    assert shown["complex"]["values"] == ["(1+2j)"]
    assert example["expected"].startswith("Opaque(zzz") and example["got"] == {"a": 1}


def test_nesting_keys_and_size_are_capped() -> None:
    def deep(level: int) -> Any:
        return {f"key{i}": deep(level - 1) for i in range(5)} if level else "v" * 200

    many = {f"input{i}": np.arange(50.0) for i in range(40)}
    example = make_example({"deep": deep(6), **many}, deep(6), [deep(3)] * 50)
    _json(example)
    assert "…" in example["input"]  # the inputs past the first few are counted, not shown
    assert example["input"]["deep"]["key0"]["key0"] == "{5 keys}"  # nesting past the cap: only a count
    assert len(example["got"]) <= 5 and example["got"][-1].startswith("… ")
    ndim = make_example({"x": np.zeros((1,) * 32 + (9,))}, np.zeros((2,) * 20), np.ones((2,) * 20))
    _json(ndim)


def test_an_example_that_cannot_fit_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("capstone_tests.checks.example.MAX_CHARS", 10)
    example = make_example({"x": np.arange(100.0)}, np.arange(100.0), np.zeros(100))
    assert example["input"] == {"…": "too large to show"}
    assert example["expected"] == {"shape": [100], "at": "[0:2]", "values": [0.0, 1.0]}


def test_example_lines_read_as_input_expected_got() -> None:
    example = make_example({"x": np.arange(20.0).reshape(2, 10), "dim": 1}, np.zeros(2), np.ones(2))
    assert example_lines(example) == ["input x[0, 0:8] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0] of shape (2, 10)",
                                      "input dim = 1", "expected = [0.0, 0.0] of shape (2,)",
                                      "got = [1.0, 1.0] of shape (2,)"]
    assert example_lines(None) == [] and example_lines("junk") == []
    assert all(len(line) <= 30 for line in example_lines(example, width=30))


def test_close_carries_the_example_with_the_input_given_or_from_the_block() -> None:
    x = np.arange(6.0).reshape(2, 3)
    wrong = x.copy()
    wrong[1, 2] = 0.0
    evidence = _failure(lambda: expect.close(wrong, x, "f(x)", given={"x": x}))
    assert evidence["example"]["input"] == {"x": {"shape": [2, 3], "values": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]}}
    assert evidence["example"]["got"]["values"][1][2] == 0.0

    def in_block() -> None:
        with expect.given(x=x), expect.given(c=2):  # nested blocks add their inputs
            expect.close(wrong, x, "f(x)")

    assert set(_failure(in_block)["example"]["input"]) == {"x", "c"}
    expect.close(x, x, "f(x)", given={"x": x})  # nothing to show when it passes


def test_equal_and_that_carry_the_example_of_what_they_compared() -> None:
    mask = np.tril(np.ones((12, 12)))
    wrong = mask.T
    evidence = _failure(lambda: expect.equal(wrong, mask, "the causal mask", 13, given={"seq_len": 12}))
    assert evidence["example"]["input"] == {"seq_len": 12}
    assert evidence["example"]["expected"]["at"] == "[0, 0:8]"  # around the first difference, (0, 1)
    assert _failure(lambda: expect.equal(3, 4, "a count"))["example"] == {"input": {}, "expected": 4, "got": 3}
    evidence = _failure(lambda: expect.that(False, "a count", expected=4, got=3))
    assert evidence["example"]["expected"] == 4 and evidence["expected"] == 4
    expect.equal([1, 2], [1, 2], "a list")
    expect.equal(mask, mask.copy(), "an array")


def test_the_plain_pytest_report_prints_the_example_as_lines() -> None:
    with pytest.raises(CheckFailed) as caught:
        expect.close(np.ones(2), np.zeros(2), "f(x)", given={"x": np.zeros(2)})
    report = caught.value.verdict.report()
    assert "\n  example:\n    input x = [0.0, 0.0] of shape (2,)\n" in report
    assert "    got = [1.0, 1.0] of shape (2,)" in report
