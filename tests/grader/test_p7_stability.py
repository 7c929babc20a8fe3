"""P7 (efficiency) gives the same verdict for the same code, idle or loaded, under both sandboxes.

The figures come from the supervisor's per-test counters of every process of the test, on the reference and the
student interleaved (capstone_tests/remote.py): a correct vectorized package passes every time, one that loops
over output elements in Python fails every time, whatever the seed and whatever else the machine is doing.
Loaded means two other gradings at once plus two processes spinning on the CPU (the machine has two cores).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.grading.grade import GradeOptions, grade
from sandbox import get_sandbox
from tests.fixtures import speed_variants

REPO = Path(__file__).resolve().parents[2]
P7 = frozenset({"test_training_performance", "test_memory_efficiency"})
IDLE_SEEDS = range(100, 106)
LOADED_SEEDS = range(200, 203)


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dest = tmp_path_factory.mktemp("speed")
    dest.chmod(0o755)
    built = {name: speed_variants.build(name, dest) for name in speed_variants.VARIANTS}
    return {"reference": REPO / "tinytorch_reference", **built}


def p7_outcomes(root: Path, kind: str, seed: int) -> dict[str, tuple[str, str]]:
    report = grade(root, get_sandbox(kind), GradeOptions(suites=["capstone"], seed=seed, only=P7))
    return {name: (r.verdict.outcome, r.verdict.message) for (_, name), r in report.results.items()}


def expect(name: str, outcomes: dict[str, tuple[str, str]]) -> None:
    if name == "dot_per_element":
        assert outcomes["test_training_performance"][0] == "failed", outcomes
        assert "of CPU" in outcomes["test_training_performance"][1]
    else:
        assert {test: outcome for test, (outcome, _) in outcomes.items()} == dict.fromkeys(P7, "passed"), outcomes


@pytest.fixture
def cpu_hogs() -> Iterator[None]:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


@pytest.mark.parametrize("kind", ["bwrap", "docker"])
@pytest.mark.parametrize("name", ["reference", "plain_vectorized", "dot_per_element"])
def test_p7_verdict_is_stable_when_idle(sandbox_ready: None, packages: dict[str, Path], name: str, kind: str) -> None:
    for seed in IDLE_SEEDS:
        expect(name, p7_outcomes(packages[name], kind, seed))


@pytest.mark.parametrize("kind", ["bwrap", "docker"])
def test_p7_verdict_is_stable_under_load(sandbox_ready: None, packages: dict[str, Path], kind: str,
                                         cpu_hogs: None) -> None:
    jobs = [(name, seed) for seed in LOADED_SEEDS for name in packages]
    with ThreadPoolExecutor(max_workers=2) as pool:  # two gradings at a time, beside the two hogs
        found = list(pool.map(lambda job: (job[0], p7_outcomes(packages[job[0]], kind, job[1])), jobs))
    for name, outcomes in found:
        expect(name, outcomes)
