"""`grader grade` without --json: points that do not count are marked so, never read as points lost."""

from typing import Any

import pytest

from grader.cli import _print_table


def _test(suite: str, name: str, outcome: str, points: float, counts: bool) -> dict[str, Any]:
    return {"suite": suite, "name": name, "priority": None, "outcome": outcome, "points": points, "max_points": 1.0,
            "diagnostic": None, "counts_toward_grade": counts}


def test_uncounted_points_are_marked(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one row per test, whatever the terminal
    report = {"score": 1.0, "max_score": 1.0, "seed": 5, "suite_version": "x", "sandbox": {"kind": "bwrap"},
              "tests": [_test("02_activations", "test_counted", "passed", 1, True),
                        _test("02_activations", "test_tanh_gradient", "failed", 0, False),
                        _test("19_benchmarking", "test_x", "failed", 0, False)],
              "priorities": [{"priority": None, "name": "02_activations", "score": 1.0, "max_score": 1.0},
                             {"priority": None, "name": "19_benchmarking (not counted toward the grade)",
                              "score": 0.0, "max_score": 1.0}]}
    _print_table(report)
    out = capsys.readouterr().out
    rows = {line.split("│")[2].strip(): line for line in out.splitlines() if line.count("│") > 3}
    assert "(not counted)" not in rows["test_counted"]
    assert "0/1 (not counted)" in rows["test_tanh_gradient"] and "0/1 (not counted)" in rows["test_x"]
    assert "19_benchmarking (not counted toward the grade): 0 / 1" in out


def test_a_failure_shows_its_worked_example_under_the_diagnostic(capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    example = {"input": {"x": {"shape": [4, 3], "at": "[2, :]", "values": [0.5, -1.0, 2.0]}, "tag": "[bold]x[/bold]",
                         **{f"extra{i}": i for i in range(3)}},
               "expected": {"shape": [4, 3], "at": "[2, :]", "values": [0.5, 0.0, 2.0]},
               "got": {"shape": [4, 3], "at": "[2, :]", "values": [0.5, -1.0, 2.0]}}
    failing = {**_test("02_activations", "test_relu_values", "failed", 0, True),
               "diagnostic": "Module 02 activations: ReLU()(x) is wrong", "evidence": {"example": example}}
    report = {"score": 0.0, "max_score": 1.0, "seed": 5, "suite_version": "x", "sandbox": {"kind": "bwrap"},
              "tests": [failing, _test("02_activations", "test_ok", "passed", 1, True)], "priorities": []}
    _print_table(report)
    cells = [line.split("│")[6].strip() for line in capsys.readouterr().out.splitlines() if line.count("│") > 5]
    at = cells.index("Module 02 activations: ReLU()(x) is wrong")
    assert cells[at + 1:at + 7] == [
        "input x[2, :] = [0.5, -1.0, 2.0] of shape (4, 3)",
        'input tag = "[bold]x[/bold]"',  # the student's text, printed as it is: never read as markup
        "input extra0 = 0",
        "input … 2 more (--json shows them)",
        "expected[2, :] = [0.5, 0.0, 2.0] of shape (4, 3)",
        "got[2, :] = [0.5, -1.0, 2.0] of shape (4, 3)",
    ]


def test_a_diagnostic_prints_as_written(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A diagnostic quotes the student's own error message: brackets in it are text, never rich markup (which
    would swallow them, or fail on an unbalanced closing tag)."""
    monkeypatch.setenv("COLUMNS", "200")
    failing = {**_test("03_layers", "test_linear", "error", 0, True),
               "diagnostic": "Module 03 layers: ValueError: shapes [red]x[/red] and [/bold] ([link=http://x]y[/link])"}
    report = {"score": 0.0, "max_score": 1.0, "seed": 5, "suite_version": "x", "sandbox": {"kind": "bwrap"},
              "tests": [failing], "priorities": []}
    _print_table(report)
    out = capsys.readouterr().out
    assert "shapes [red]x[/red] and [/bold] ([link=http://x]y[/link])" in out
