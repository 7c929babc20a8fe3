"""`python -m capstone_tests`: run suites in this process (the plain form) and print one JSON report.

Used by our own tests and benchmarks to grade a package folder in a fresh interpreter; the grader's
sandboxed path runs probes and checks in different processes instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# One BLAS thread, as in the grader's sandboxes, set before numpy loads (conftest.py says why).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from .harness import grade_in_process  # noqa: E402 - after the BLAS setting above
from .registry import SUITES, load_suite  # noqa: E402
from .verdict import Verdict  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m capstone_tests", description=__doc__)
    parser.add_argument("--tinytorch", help="folder that contains the tinytorch package", required=True)
    parser.add_argument("--suite", action="append", choices=sorted(SUITES), help="repeatable; default all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--through-boundary", action="store_true",
                        help="run the package in a separate object-server process, as the grader does (no sandbox)")
    args = parser.parse_args(argv)
    package_root = Path(args.tinytorch).resolve()
    if not (package_root / "tinytorch").is_dir():
        parser.error(f"no tinytorch/ folder under {package_root}")
    if args.through_boundary:
        return _through_boundary(package_root, args.suite or list(SUITES), args.seed)
    sys.path.insert(0, str(package_root))
    results = []
    for suite in args.suite or list(SUITES):
        for test in load_suite(suite):
            start = time.perf_counter()
            verdict = grade_in_process(test, args.seed)
            results.append({
                "suite": suite, "name": test.name, "outcome": verdict.outcome, "module": verdict.module,
                "message": verdict.message, "seconds": round(time.perf_counter() - start, 4),
                **_evidence(verdict),
            })
    json.dump({"seed": args.seed, "tests": results}, sys.stdout, indent=1, default=_plain)
    sys.stdout.write("\n")
    return 0


def _through_boundary(package_root: Path, suites: list[str], seed: int) -> int:
    from .remote import grade_through_boundary

    results = [{"suite": test.suite, "name": test.name, "outcome": verdict.outcome, "module": verdict.module,
                "message": verdict.message, "seconds": round(run.seconds, 4), "round_trips": run.round_trips,
                **_evidence(verdict)}
               for test, verdict, run in grade_through_boundary(package_root, suites, seed)]
    json.dump({"seed": seed, "tests": results}, sys.stdout, indent=1, default=_plain)
    sys.stdout.write("\n")
    return 0


def _evidence(verdict: Verdict) -> dict[str, Any]:
    """A failed verdict's evidence (the student's frames among it) and hint, from which our tests rebuild the
    verdict and its diagnostic (grader/diagnostics.py) as the grader makes it."""
    return {} if verdict.passed else {"evidence": verdict.evidence, "hint": verdict.hint}


def _plain(value: Any) -> Any:
    """numpy values in evidence as plain JSON; anything else as its text."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


if __name__ == "__main__":
    raise SystemExit(main())
