"""The reference's own time for each graded test, from which the grader derives each test's time limit.

    python -m benchmarks.reference_seconds            # print the table
    python -m benchmarks.reference_seconds --write    # write capstone_tests/reference_seconds.json

Each probe runs on the reference in this process (the plain form: no boundary, no sandbox), at three seeds; the
median is kept. grader/grading/limits.py multiplies these by a generous factor, so the table only needs to be
right within a factor of a few: re-run it when tests change (tests/capstone_tests check it covers every test).
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "capstone_tests" / "reference_seconds.json"
SEEDS = (0, 1, 2)


def measure() -> dict[str, float]:
    sys.path.insert(0, str(REPO / "tinytorch_reference"))
    from capstone_tests.harness import make_challenge, run_probe
    from capstone_tests.registry import SUITES, load_suite
    from capstone_tests.resolver import Resolver

    seconds = {}
    for suite in SUITES:
        for test in load_suite(suite):
            times = []
            for seed in SEEDS:
                challenge = make_challenge(test, seed)
                start = time.perf_counter()
                envelope = run_probe(test.probe, challenge, Resolver("tinytorch"))
                times.append(time.perf_counter() - start)
                if envelope["status"] != "ok":
                    raise SystemExit(f"the reference failed {test.id} at seed {seed}: {envelope}")
            seconds[test.id] = round(statistics.median(times), 5)
    return seconds


def main(argv: list[str]) -> int:
    seconds = measure()
    table = {"measured_at": datetime.now(UTC).date().isoformat(), "machine": f"{platform.machine()}, "
             f"{platform.python_implementation()} {platform.python_version()}", "seconds": seconds}
    if "--write" in argv:
        TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    for key, value in sorted(seconds.items(), key=lambda kv: -kv[1])[:15]:
        print(f"{value:8.4f}  {key}")
    print(f"{len(seconds)} tests, {sum(seconds.values()):.2f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
