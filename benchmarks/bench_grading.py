"""What does the sandbox cost? `grader grade` against the bare suites, side by side in one run.

1. One submission (the reference) through `grader grade --suite capstone`, for Docker and bubblewrap,
   against the capstone suite run bare (plain pytest on the reference, no sandbox): ratio, target <= 1.5x.
2. All suites through `grader grade --suite all`: wall time, target < 4 s, with its default two lanes and with
   `--lanes 1` (docs/architecture.md, "Lanes").
3. Per suite (grade() in this process, bubblewrap, one lane): round trips across the boundary, and the harness's
   share of the wall time (the part not spent waiting for the sandbox's side: probes, encoding, checks).
4. Throughput: submissions graded per minute with 2 gradings at a time, per sandbox (each takes a second lane
   only while the other does not need the core).

Each figure is the median of REPEATS runs, the kinds interleaved so machine drift hits all alike.
Run: `python benchmarks/bench_grading.py` (needs the sandbox image: `bash sandbox/setup.sh`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tinytorch_reference"
REPEATS = 5
THROUGHPUT_SUBMISSIONS = 6
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return seconds


def bare() -> float:
    return timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--seed", "1",
                  "capstone_tests/test_capstone_integration.py", "--tinytorch", str(REFERENCE)])


def graded(kind: str, seed: int = 1, suite: str = "capstone", lanes: int = 2) -> float:
    return timed([sys.executable, "-m", "grader", "grade", str(REFERENCE), "--suite", suite,
                  "--sandbox", kind, "--seed", str(seed), "--lanes", str(lanes), "--json"])


def boundary_figures() -> list[tuple[str, int, float, float]]:
    """(suite, round trips, wall seconds, harness share) per suite, graded in this process under bubblewrap."""
    from capstone_tests.registry import SUITES
    from grader.grading.grade import GradeOptions, grade
    from sandbox import get_sandbox

    rows = []
    for suite in SUITES:
        start = time.perf_counter()
        report = grade(REFERENCE, get_sandbox("bwrap"), GradeOptions(suites=[suite], seed=1, lanes=1))
        wall = time.perf_counter() - start
        if report.sheet.score != report.sheet.max_score:
            raise SystemExit(f"the reference lost points on {suite}")
        waited = report.runtime["waited_s"]
        rows.append((suite, report.runtime["round_trips"], wall, max(0.0, wall - waited) / wall))
    return rows


def per_minute(kind: str) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda seed: graded(kind, seed), range(THROUGHPUT_SUBMISSIONS)))
    return THROUGHPUT_SUBMISSIONS / (time.perf_counter() - start) * 60


def main() -> None:
    kinds = ("docker", "bwrap")
    graded(kinds[0])  # warm caches (image, page cache) before anything is measured
    times: dict[str, list[float]] = {"bare": [], **{k: [] for k in kinds}}
    for _ in range(REPEATS):
        times["bare"].append(bare())
        for kind in kinds:
            times[kind].append(graded(kind))
    base = statistics.median(times["bare"])
    print(f"capstone suite, reference, median of {REPEATS}:")
    print(f"  bare pytest (no sandbox)        {base:6.2f} s")
    for kind in kinds:
        median = statistics.median(times[kind])
        print(f"  grader grade --sandbox {kind:<7}  {median:6.2f} s   ratio {median / base:4.2f}x (target <= 1.5x)")
    every: dict[tuple[str, int], list[float]] = {(kind, lanes): [] for kind in kinds for lanes in (2, 1)}
    for _ in range(3):
        for kind, lanes in every:
            every[(kind, lanes)].append(graded(kind, suite="all", lanes=lanes))
    for (kind, lanes), seconds in every.items():
        print(f"  grader grade --suite all --sandbox {kind:<7} --lanes {lanes} {statistics.median(seconds):6.2f} s"
              f"{' (target < 4 s)' if lanes == 2 else ''}")
    print("per suite, bubblewrap: round trips, wall, harness share of the wall time")
    for suite, trips, wall, share in boundary_figures():
        print(f"  {suite:<18} {trips:6d} {wall:6.2f} s {share:6.0%}")
    print(f"throughput, {THROUGHPUT_SUBMISSIONS} submissions, 2 at a time:")
    for kind in kinds:
        print(f"  {kind:<7} {per_minute(kind):6.1f} submissions/min")


if __name__ == "__main__":
    main()
