"""The grader's form (probes here, the package in an object server of its own) grades exactly like the plain form.

For the reference and every broken student fixture, the same suites at the same seed go through both forms, each
in a fresh interpreter (`python -m capstone_tests [--through-boundary]`), and every test must get the same
outcome. The boundary here is two local processes (no sandbox), so this isolates the protocol and the probes'
remote reading from the sandboxes (tests/grader/ grade through both real sandboxes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from capstone_tests.registry import SUITES
from tests.fixtures.students import build, expected

REPO = Path(__file__).resolve().parents[2]
SEED = 11


def _grade(root: Path, suites: list[str], remote: bool) -> dict[str, dict[str, Any]]:
    argv = [sys.executable, "-m", "capstone_tests", "--tinytorch", str(root), "--seed", str(SEED)]
    argv += [arg for suite in suites for arg in ("--suite", suite)] + (["--through-boundary"] if remote else [])
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return {f"{t['suite']}::{t['name']}": t for t in json.loads(result.stdout)["tests"]}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build.build_all(tmp_path_factory.mktemp("students"))


def _same(plain: dict[str, dict[str, Any]], remote: dict[str, dict[str, Any]]) -> None:
    assert plain.keys() == remote.keys()
    differ = {key: (plain[key]["outcome"], remote[key]["outcome"], remote[key]["message"][:300])
              for key in plain if plain[key]["outcome"] != remote[key]["outcome"]}
    assert not differ, f"outcomes differ (plain, through the boundary, its message): {differ}"


def test_reference_passes_every_suite_through_the_boundary() -> None:
    remote = _grade(REPO / "tinytorch_reference", list(SUITES), remote=True)
    failures = {key: t["message"][:300] for key, t in remote.items() if t["outcome"] != "passed"}
    assert not failures


@pytest.mark.parametrize("name", sorted(expected.EXPECTED))
def test_fixture_grades_alike_in_both_forms(fixtures: dict[str, Path], name: str) -> None:
    suites = sorted({expected.EXPECTED[name].suite, "capstone"})
    _same(_grade(fixtures[name], suites, remote=False), _grade(fixtures[name], suites, remote=True))
