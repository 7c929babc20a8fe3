"""`grader grade` on a package with modules that do not compile: the problems are printed (file, line, text)
before grading starts, the package is graded all the same (the other modules earn their points), and
`--json` carries them as `compile_errors`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import compile_errors
from tests.fixtures.compile_errors import FAILS, PASSES, PROBLEMS

REPO = Path(__file__).resolve().parents[2]
SEED = "7"


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_errors.build(tmp_path_factory.mktemp("packages"))


def grade(path: Path, *extra: str, merged: bool = False, expect: int = 0) -> subprocess.CompletedProcess[str]:
    """`grader grade` in a process of its own; `merged`: stderr into stdout, in the order it was written; `expect`:
    its exit code (0 full marks, 1 graded below them)."""
    argv = [sys.executable, "-m", "grader", "grade", str(path), "--seed", SEED, "--sandbox", "bwrap", *extra]
    streams = {"stderr": subprocess.STDOUT} if merged else {"stderr": subprocess.PIPE}
    for _ in range(2):
        done = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=600,
                              env={**os.environ, "COLUMNS": "200"}, **streams)  # type: ignore[call-overload]
        # Exit 3 is "sandbox unavailable" (bwrap failing to start, seen rarely under load): one retry, as in
        # test_serve_e2e.py.
        if done.returncode != 3:
            break
    assert done.returncode == expect, (done.stdout, done.stderr)
    return done


def shown(problem: dict[str, object]) -> list[str]:
    return [f"does not compile: {problem['file']}, line {problem['line']}, column {problem['column']}: "
            f"{problem['message']}", f"    {problem['text']}"]


def test_the_problems_come_before_the_table_and_the_package_is_graded(broken: Path, sandbox_ready: None) -> None:
    out = grade(broken, merged=True, expect=1).stdout
    lines = out.splitlines()
    first = lines.index(shown(PROBLEMS[0])[0])
    # Both problems, each with its line ("[red]" printed as typed), then the note, then the table.
    assert lines[first: first + 5] == [*shown(PROBLEMS[0]), *shown(PROBLEMS[1]), lines[first + 4]]
    assert lines[first + 4].startswith("graded anyway")
    [table] = [i for i, line in enumerate(lines) if re.search(r"score [\d.]+ / 100\b", line)]
    assert first < table
    score = float(re.search(r"score ([\d.]+) / 100", lines[table]).group(1))  # type: ignore[union-attr]
    # Conv2d's tests fail; everything that does not need module 09 still earns its points.
    assert 50 < score < 100
    assert re.search(rf"{FAILS}.*failed", out)
    assert re.search(rf"{PASSES}.*passed", out)


def test_json_carries_the_problems(broken: Path, sandbox_ready: None) -> None:
    done = grade(broken, "--json", expect=1)
    report = json.loads(done.stdout)
    assert report["compile_errors"] == PROBLEMS
    assert 50 < report["score"] < report["max_score"] == 100
    outcomes = {t["name"]: t["outcome"] for t in report["tests"]}
    assert (outcomes[FAILS], outcomes[PASSES]) == ("failed", "passed")
    assert shown(PROBLEMS[0])[0] in done.stderr.splitlines()


def test_a_package_that_compiles_prints_nothing_about_it(sandbox_ready: None) -> None:
    done = grade(REPO / "tinytorch_reference", "--json")
    assert json.loads(done.stdout)["compile_errors"] == []
    assert "does not compile" not in done.stderr
