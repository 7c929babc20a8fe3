"""`grader grade`'s report as a table, and its exit code.

The table answers "what do I fix?" first: the tests that lost points come first (most important priority first),
then the ones that passed, grouped by priority. When several suites were graded (`--suite all`, 155 tests) the
passed tests are one line per suite unless `verbose`: a handful of failures must not hide among 150 green rows.

Printed into a pipe or a file, rich would wrap the table at 80 columns and cut test names mid-word; there the
table is as wide as it needs (grader.console.report_console), test names never wrap, and a long diagnostic
wraps inside its own column at word boundaries.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

OUTCOME_STYLE = {"passed": "green", "failed": "red", "error": "red", "timeout": "yellow", "skipped": "dim"}
EXAMPLE_INPUTS, EXAMPLE_WIDTH = 3, 110
# The diagnostic column's most, in a pipe: a worked example's line (EXAMPLE_WIDTH, indented) fits whole.
DIAGNOSTIC_WIDTH = EXAMPLE_WIDTH + 2
# Scores are sums of floats: full marks may come out a hair under the maximum.
TOLERANCE = 1e-6

Report = dict[str, Any]
TestRow = dict[str, Any]


def grade_exit_code(score: float, max_score: float, fail_under: float | None = None) -> int:
    """0 when the grade is good enough, 1 when it is not: below `fail_under` when given, else below full marks.

    (2, a refused upload, and 3, an infrastructure fault, are decided before there is a score.)"""
    threshold = max_score if fail_under is None else fail_under
    return 1 if score < threshold - TOLERANCE else 0


def lost_points(test: TestRow) -> bool:
    """A test to look at: it did not pass, or it passed with less than its points."""
    return test["outcome"] != "passed" or test["points"] < test["max_points"] - TOLERANCE


def _priority_key(test: TestRow) -> tuple[int, int]:
    # P1 is the most important; tests without a priority (the module suites) after P7. Uncounted tests last.
    priority = test["priority"] if test["priority"] is not None else 99
    return (0 if test.get("counts_toward_grade", True) else 1, priority)


def ordered(tests: list[TestRow]) -> tuple[list[TestRow], list[TestRow]]:
    """(the tests that lost points, the rest), each by priority; the grading's own order within a priority."""
    failing = sorted((t for t in tests if lost_points(t)), key=_priority_key)
    passing = sorted((t for t in tests if not lost_points(t)), key=_priority_key)
    return failing, passing


def print_report(report: Report, console: Console, *, verbose: bool = False, pipe: bool = False) -> None:
    """The table, then the score of each priority group, then how to reproduce the grading."""
    failing, passing = ordered(report["tests"])
    several_suites = len({t["suite"] for t in report["tests"]}) > 1
    summarise = several_suites and not verbose
    table = Table(title=f"score {report['score']:g} / {report['max_score']:g}", show_lines=False)
    table.add_column("suite", no_wrap=pipe, overflow="fold")
    table.add_column("test", no_wrap=pipe, overflow="fold")
    table.add_column("P", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("points", no_wrap=pipe, overflow="fold")
    table.add_column("diagnostic", overflow="fold", max_width=DIAGNOSTIC_WIDTH if pipe else None)
    for index, test in enumerate(failing):
        table.add_row(*_test_cells(test), end_section=index == len(failing) - 1 and bool(passing))
    if summarise:
        for suite, tests in _by_suite(passing).items():
            table.add_row(*_suite_cells(suite, tests))
    else:
        for test in passing:
            table.add_row(*_test_cells(test))
    console.print(table)
    if summarise and passing:
        console.print(f"  {len(passing)} passed tests shown one line per suite (--verbose lists each)")
    for group in report["priorities"]:
        label = f"P{group['priority']} {group['name']}" if group["priority"] else group["name"]
        console.print(Text(f"  {label}: {group['score']:g} / {group['max_score']:g}"))
    sandbox = report["sandbox"].get("kind", "?")
    console.print(Text(f"seed {report['seed']}, suites {report['suite_version']}, sandbox {sandbox}"))


def _test_cells(test: TestRow) -> tuple[str | Text, ...]:
    style = OUTCOME_STYLE.get(test["outcome"], "")
    # An extra or a test of an uncounted suite shows its points, marked, so 0/1 is not read as a point lost.
    counted = "" if test.get("counts_toward_grade", True) else " (not counted)"
    return (test["suite"], test["name"], str(test["priority"] or ""), Text(test["outcome"], style=style),
            f"{test['points']:g}/{test['max_points']:g}{counted}", _diagnostic_cell(test))


def _by_suite(tests: list[TestRow]) -> dict[str, list[TestRow]]:
    suites: dict[str, list[TestRow]] = defaultdict(list)
    for test in tests:
        suites[test["suite"]].append(test)
    return dict(suites)


def _suite_cells(suite: str, tests: list[TestRow]) -> tuple[str | Text, ...]:
    points = sum(t["points"] for t in tests if t.get("counts_toward_grade", True))
    most = sum(t["max_points"] for t in tests if t.get("counts_toward_grade", True))
    uncounted = sum(1 for t in tests if not t.get("counts_toward_grade", True))
    note = f" (+{uncounted} not counted)" if uncounted else ""
    return (suite, f"{len(tests)} passed", "", Text("passed", style="green"), f"{points:g}/{most:g}{note}", "")


def _diagnostic_cell(test: TestRow) -> Text:
    """The diagnostic, and under it the failure's worked example (example.py), a short line per part: the input is
    what a student needs to reproduce the failure, so it shows by default, not behind a flag. At most
    EXAMPLE_INPUTS inputs and EXAMPLE_WIDTH characters a line keep a table of many failures readable; --json has
    the whole example."""
    from capstone_tests.checks.example import example_lines

    # Plain text, never markup: a diagnostic quotes the student's own error messages, which may hold brackets.
    diagnostic = Text(test["diagnostic"] or "")
    lines = example_lines((test.get("evidence") or {}).get("example"), EXAMPLE_WIDTH)
    if not lines:
        return diagnostic
    inputs = [line for line in lines if line.startswith("input ")]
    if len(inputs) > EXAMPLE_INPUTS:
        lines = [*inputs[:EXAMPLE_INPUTS], f"input … {len(inputs) - EXAMPLE_INPUTS} more (--json shows them)",
                 *lines[len(inputs):]]
    cell = diagnostic
    # Plain text too: the values come from the student's package.
    cell.append("\n" + "\n".join(f"  {line}" for line in lines), style="dim")
    return cell
