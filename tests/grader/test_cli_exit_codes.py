"""`grader grade` on a deliberately broken copy of the reference (module 09, spatial, missing: every spatial test
and the capstone's CNN test fail), through a pipe as CI and scripts read it: exit 1 below full marks, exit 0
under a --fail-under the score meets; the failures at the top of the table, the passed tests one line per suite,
and no test name cut. Two real gradings; the rules themselves are unit-tested in test_cli_table.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from capstone_tests.rubric import load_rubric
from tests.fixtures.students import build

REPO = Path(__file__).resolve().parents[2]
SEED = "7"
BROKEN = "missing_spatial"


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    (fixture,) = [f for f in build.FIXTURES if f.name == BROKEN]
    return build.build_fixture(fixture, tmp_path_factory.mktemp("packages"))


def grade(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "grader", "grade", str(path), "--seed", SEED, "--sandbox", "bwrap", *extra]
    # No $COLUMNS: a pipe's width is rich's 80 unless the CLI says otherwise.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    for _ in range(2):
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
        if done.returncode != 3:  # bwrap failing to start under load: one retry, as in test_cli_compile_errors.py
            break
    return done


def rows(out: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if line.count("│") > 5]


def test_below_full_marks_exits_1_with_the_failures_first(broken: Path, sandbox_ready: None) -> None:
    done = grade(broken, "--suite", "all")
    assert done.returncode == 1, (done.stdout, done.stderr)
    score, most = map(float, re.search(r"score ([\d.]+) / ([\d.]+)", done.stdout).groups())  # type: ignore[union-attr]
    assert 0 < score < most
    table = [row for row in rows(done.stdout) if row[1]]  # a wrapped diagnostic's further lines have no name
    outcomes = [row[3] for row in table]
    failing = outcomes.count("failed") + outcomes.count("error")
    # Every failure above every passed line; the spatial suite's tests and the capstone's CNN test among them.
    assert failing >= 5 and set(outcomes[:failing]) <= {"failed", "error"} and set(outcomes[failing:]) == {"passed"}
    names = {row[1] for row in table[:failing]}
    assert "test_cnn_architecture_integration" in names and "test_conv2d_values" in names
    # The capstone (P1..P7) failure comes before the module suites' (no priority).
    assert table[0][0] == "capstone"
    # Passed tests: one line per suite ("N passed"), not 140 rows.
    passed = table[failing:]
    assert all(re.fullmatch(r"\d+ passed", row[1]) for row in passed), passed
    assert len(passed) == len({row[0] for row in passed}) >= 15
    # Names whole, in a pipe of rich's default 80 columns: every name the table shows is a test of the rubric.
    known = {test.name for suite in load_rubric().values() for test in suite.tests}
    assert names <= known, names - known


def test_fail_under_met_exits_0(broken: Path, sandbox_ready: None) -> None:
    done = grade(broken, "--fail-under", "50", "--json")
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr)
    report = json.loads(done.stdout)
    assert 50 <= report["score"] < report["max_score"]
