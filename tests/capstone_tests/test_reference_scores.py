"""The reference scores 100% on every suite, whatever seed the grader picks.

Each run is a fresh interpreter (`python -m capstone_tests`), the reference imported as plain
`tinytorch` exactly as a student's package is: fixed seeds so a failure can be replayed, plus fresh
random ones each session (printed in the message).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from capstone_tests.registry import SUITES

REPO = Path(__file__).resolve().parents[2]
SEEDS = [0, 1, 2, 20251201, *random.SystemRandom().sample(range(2**31 - 1), 4)]


@pytest.mark.parametrize("seed", SEEDS)
def test_reference_passes_every_suite(seed: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "capstone_tests", "--tinytorch", str(REPO / "tinytorch_reference"), "--seed", str(seed)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    tests = json.loads(result.stdout)["tests"]
    assert {t["suite"] for t in tests} == set(SUITES)
    assert len([t for t in tests if t["suite"] == "capstone"]) == 14
    failures = [f"{t['suite']}::{t['name']}: {t['message']}" for t in tests if t["outcome"] != "passed"]
    assert not failures, f"seed {seed}: the reference failed {failures}"
