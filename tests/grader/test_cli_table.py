"""`grader grade` without --json: failures first, passed tests summed up per suite when several suites were graded,
points that do not count marked so, names whole in a pipe; and its exit code (grade_exit_code)."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader.cli import _print_table
from grader.report_table import grade_exit_code

REPO = Path(__file__).resolve().parents[2]


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
    _print_table(report, verbose=True)
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


# ------------------------------------------------------------------------------------------ the exit code
@pytest.mark.parametrize(("score", "max_score", "fail_under", "code"), [
    (100, 100, None, 0),            # full marks
    (99.5, 100, None, 1),           # graded, below full marks
    (100 - 1e-9, 100, None, 0),     # a sum of floats a hair under the maximum is full marks
    (0, 0, None, 0),                # nothing counted: nothing lost
    (80, 100, 80, 0),               # --fail-under: at the bar passes
    (79.99, 100, 80, 1),            # below it fails
    (100, 100, 0, 0),
    (0, 100, 0, 0),                 # --fail-under 0: any grade passes
    (100, 100, 150, 1),             # a bar over the maximum cannot be met
])
def test_exit_code(score: float, max_score: float, fail_under: float | None, code: int) -> None:
    assert grade_exit_code(score, max_score, fail_under) == code


# ------------------------------------------------------------------------------------------ the order of the rows
def _row(suite: str, name: str, outcome: str, priority: int | None = None, points: float | None = None,
         diagnostic: str | None = None) -> dict[str, Any]:
    earned = (1.0 if outcome == "passed" else 0.0) if points is None else points
    return {"suite": suite, "name": name, "priority": priority, "outcome": outcome, "points": earned,
            "max_points": 1.0, "diagnostic": diagnostic, "counts_toward_grade": True}


def _report(tests: list[dict[str, Any]]) -> dict[str, Any]:
    return {"score": sum(t["points"] for t in tests), "max_score": float(len(tests)), "seed": 5,
            "suite_version": "x", "sandbox": {"kind": "bwrap"}, "tests": tests, "priorities": []}


def _names(out: str) -> list[str]:
    return [line.split("│")[2].strip() for line in out.splitlines() if line.count("│") > 3]


def test_failures_come_first_by_priority_then_passed_by_priority(capsys: pytest.CaptureFixture[str]) -> None:
    tests = [_row("capstone", "test_p1_ok", "passed", 1), _row("capstone", "test_p5_bad", "failed", 5),
             _row("capstone", "test_p3_ok", "passed", 3), _row("capstone", "test_p2_timeout", "timeout", 2),
             _row("capstone", "test_p2_ok", "passed", 2), _row("capstone", "test_p4_partial", "passed", 4, 0.5),
             _row("capstone", "test_p1_error", "error", 1)]
    _print_table(_report(tests))
    out = capsys.readouterr().out
    assert _names(out) == ["test_p1_error", "test_p2_timeout", "test_p4_partial", "test_p5_bad",
                           "test_p1_ok", "test_p2_ok", "test_p3_ok"]
    # A rule between what lost points and what did not.
    lines = out.splitlines()
    last_failure = next(i for i, line in enumerate(lines) if "test_p5_bad" in line)
    assert set(lines[last_failure + 1].strip()) <= set("├┼┤─")


def test_many_suites_show_each_failure_and_one_line_per_suite_of_passes(capsys: pytest.CaptureFixture[str]) -> None:
    tests = []
    for number in range(1, 20):  # 19 suites of 8, one failure in three of them, scattered
        suite = f"{number:02d}_module"
        tests += [_row(suite, f"test_{suite}_{i}", "failed" if (number, i) in {(3, 5), (11, 0), (19, 7)} else "passed")
                  for i in range(8)]
    _print_table(_report(tests))
    out = capsys.readouterr().out
    names = _names(out)
    assert names[:3] == ["test_03_module_5", "test_11_module_0", "test_19_module_7"]
    assert names[3:] == ["8 passed" if n not in (3, 11, 19) else "7 passed" for n in range(1, 20)]
    assert "149 passed tests shown one line per suite (--verbose lists each)" in out
    assert "│ 01_module " in out and "8/8" in out

    _print_table(_report(tests), verbose=True)
    verbose = _names(capsys.readouterr().out)
    assert len(verbose) == 152 and verbose[:3] == names[:3] and "test_01_module_0" in verbose


LONG_NAME = "test_a_deliberately_long_test_name_that_would_have_been_cut_mid_word_at_eighty_columns"
LONG_DIAGNOSTIC = ("Module 11 embeddings: PositionalEncoding.forward in tinytorch/core/embeddings.py returns the wrong "
                   "shape for a batch of one; " * 3).strip()
PRINT_TABLE = """
import json, sys
from grader.cli import _print_table
_print_table(json.loads(sys.stdin.read()), verbose="-v" in sys.argv)
"""


@pytest.mark.parametrize("columns", [None, "80", "40"])
def test_in_a_pipe_no_name_is_cut(columns: str | None) -> None:
    """Into a pipe (a CI log, `| grep`), every test name is whole on its line, whatever $COLUMNS says, and a long
    diagnostic wraps between words in its own column."""
    import json

    tests = [_row("11_embeddings_with_a_long_suite_name", LONG_NAME, "failed", diagnostic=LONG_DIAGNOSTIC),
             *[_row("02_activations", f"test_{'x' * 40}_{i}", "passed") for i in range(3)]]
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns:
        env["COLUMNS"] = columns
    done = subprocess.run([sys.executable, "-c", PRINT_TABLE, "-v"], input=json.dumps(_report(tests)), cwd=REPO,
                          env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\x1b[" not in out  # no colour codes in a file
    for test in tests:
        assert any(test["name"] in line and test["suite"] in line for line in out.splitlines()), (test["name"], out)
    diagnostic_lines = [line.split("│")[6].strip() for line in out.splitlines() if line.count("│") > 5]
    words = LONG_DIAGNOSTIC.split()
    assert " ".join(part for part in diagnostic_lines if part).split() == words  # every word whole, in order
