"""Does the course's own solution get full marks? Grade an export of it, per suite, over several seeds.

    python benchmarks/bench_course.py PATH [--seeds 20] [--first-seed 1] [--sandbox docker|bwrap|both]

PATH is the folder that holds a `tinytorch/` package exported from the course's own solution (its `src/NN_*`
modules, exported to the package layout its `tito` tooling produces). The export is the course's code, not
ours: make it outside the repository and never commit it. Each seed is one `grader grade PATH --suite all
--json` run, in each sandbox usable here (both by default), one after the other so the runs do not share the
cores.

Prints, per suite and sandbox: the worst and the mean score over the seeds and on how many seeds it was full;
then every test that lost points, with how often and its first diagnostic. A suite the rubric does not count
(and an extra it does not count) is listed apart. Exit 0 when every counted suite was full on every run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def usable(kind: str) -> str | None:
    """None when this sandbox can run here, else why not."""
    sys.path.insert(0, str(ROOT))
    from sandbox import SandboxError, get_sandbox

    try:
        get_sandbox(kind).describe()  # type: ignore[arg-type]
        return None
    except SandboxError as error:
        return str(error)


def grade(path: Path, kind: str, seed: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--suite", "all", "--sandbox", kind,
                           "--seed", str(seed), "--json"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          check=False)
    if done.returncode not in (0, 1):  # 1: graded below full marks
        raise SystemExit(f"grading {path} in {kind} at seed {seed} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def per_suite(report: dict[str, Any]) -> dict[str, tuple[float, float, bool]]:
    """{suite: (points, max points, counted)}: a counted suite adds up its counted tests only (no extras)."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for test in report["tests"]:
        entry = sums[test["suite"]]
        entry[2] += 1 if test["counts_toward_grade"] else 0
        if test["counts_toward_grade"] or not _suite_counts(report, test["suite"]):
            entry[0] += test["points"] or 0.0
            entry[1] += test["max_points"]
    return {suite: (p, m, _suite_counts(report, suite)) for suite, (p, m, _) in sums.items()}


def _suite_counts(report: dict[str, Any], suite: str) -> bool:
    return any(t["counts_toward_grade"] for t in report["tests"] if t["suite"] == suite)


def summarise(runs: dict[str, list[dict[str, Any]]]) -> bool:
    """Print the tables; True when every counted suite was full on every run."""
    full_everywhere = True
    for kind, reports in runs.items():
        seeds = [r["seed"] for r in reports]
        print(f"\n{kind}: {len(reports)} seeds ({seeds[0]}..{seeds[-1]})")
        scores: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
        for report in reports:
            for suite, figures in per_suite(report).items():
                scores[suite].append(figures)
        print(f"  {'suite':<18} {'max':>6} {'worst':>7} {'mean':>8} {'full on':>8}")
        for suite, figures in scores.items():
            points = [p for p, _, _ in figures]
            top, counted = figures[0][1], figures[0][2]
            full = sum(p == m for p, m, _ in figures)
            full_everywhere &= full == len(figures) or not counted
            note = "" if counted else "   (not counted toward the grade)"
            print(f"  {suite:<18} {top:>6g} {min(points):>7g} {statistics.mean(points):>8.2f} "
                  f"{full:>5}/{len(figures)}{note}")
        totals = [(r["score"], r["max_score"]) for r in reports]
        print(f"  total (counted): worst {min(s for s, _ in totals):g} / {totals[0][1]:g}, "
              f"full on {sum(s == m for s, m in totals)}/{len(totals)}")
        lost: Counter[tuple[str, str, bool]] = Counter()
        first: dict[tuple[str, str, bool], str] = {}
        for report in reports:
            for test in report["tests"]:
                if test["outcome"] != "passed":
                    key = (test["suite"], test["name"], test["counts_toward_grade"])
                    lost[key] += 1
                    first.setdefault(key, f"seed {report['seed']}: {(test['diagnostic'] or '')[:220]}")
        for (suite, name, counts), n in sorted(lost.items()):
            label = "" if counts else " [not counted]"
            print(f"  lost {suite}::{name}{label} on {n}/{len(reports)}: {first[(suite, name, counts)]}")
    return full_everywhere


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path, help="folder that holds tinytorch/ (an export of the course's solution)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--sandbox", choices=("docker", "bwrap", "both"), default="both")
    args = parser.parse_args(argv)
    if not (args.path / "tinytorch").is_dir():
        parser.error(f"{args.path} holds no tinytorch/ folder")
    runs: dict[str, list[dict[str, Any]]] = {}
    for kind in ("docker", "bwrap") if args.sandbox == "both" else (args.sandbox,):
        why = usable(kind)
        if why:
            print(f"{kind}: not usable here, skipped ({why})")
            continue
        start = time.perf_counter()
        runs[kind] = [grade(args.path.resolve(), kind, seed)
                      for seed in range(args.first_seed, args.first_seed + args.seeds)]
        print(f"{kind}: {args.seeds} gradings in {time.perf_counter() - start:.0f} s")
    if not runs:
        raise SystemExit("no sandbox usable here")
    return 0 if summarise(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
