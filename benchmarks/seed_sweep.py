"""Grade one package over many challenge seeds, in one process, and report every check that did not pass.

The graded checks draw their inputs from the grading seed, so a check that passes the reference at one seed
may fail it at another (a degenerate draw, a tolerance that holds for most inputs only). This sweep grades the
package with every suite at each seed, in process (the reference's own runs cached as in the grader), and
prints, per check, how many seeds it did not pass and which.

    python benchmarks/seed_sweep.py                       # the reference, seeds 0-999, exit 1 on any failure
    python benchmarks/seed_sweep.py --seeds 0-199 --jobs 2 --random 500
    python benchmarks/seed_sweep.py --tinytorch DIR --expect relu_backward_wrong   # a broken fixture

With `--expect NAME` (a fixture of tests/fixtures/students/build.py) a seed is a failure when the set of tests
that did not pass differs from what tests/fixtures/students/expected.py says for NAME: a required test that
passed (the bug was not caught) or a test that failed although the bug does not reach it.

P7 (measure= tests): the grader times or traces both sides three times; here each side is measured once, and
when the package is the reference itself its one measurement stands for both sides (the ratio of the reference
to itself is 1 whatever the noise; the ratio's fairness is bench_grading's business, not a seed's). Everything
of those checks that depends on the seed (the losses of the long run, the output's dtype and shape) is judged
from real runs.
"""

from __future__ import annotations

import os

# Before numpy loads: one BLAS thread per process, so --jobs 2 uses two cores and no more.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import importlib.util
import multiprocessing
import random
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from capstone_tests.harness import judge, make_challenge, measure_memory_in_process, run_probe  # noqa: E402
from capstone_tests.registry import SUITES, GradedTest, load_suite  # noqa: E402
from capstone_tests.resolver import REFERENCE, STUDENT, Resolver  # noqa: E402

EXPECTED_FILE = ROOT / "tests" / "fixtures" / "students" / "expected.py"


@dataclass
class Outcome:
    """What one worker found: per test id, the (seed, message) of every run that was not as expected."""

    failures: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per test id, summed over seeds
    runs: int = 0

    def merge(self, other: Outcome) -> None:
        for test_id, found in other.failures.items():
            self.failures.setdefault(test_id, []).extend(found)
        for test_id, seconds in other.seconds.items():
            self.seconds[test_id] = self.seconds.get(test_id, 0.0) + seconds
        self.runs += other.runs


@dataclass(frozen=True)
class Expectation:
    """What the package must do at every seed: fail `fails` (and only those, `sometimes` aside)."""

    fails: frozenset[str] = frozenset()
    sometimes: frozenset[str] = frozenset()


def expectation_of(fixture: str | None) -> Expectation:
    if fixture is None:
        return Expectation()  # the reference: every test passes
    spec = importlib.util.spec_from_file_location("student_fixtures_expected", EXPECTED_FILE)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    entry = module.EXPECTED[fixture]
    return Expectation(frozenset(entry.fails), frozenset(entry.sometimes))


def select_tests(suites: Sequence[str] | None = None, names: Sequence[str] | None = None) -> list[GradedTest]:
    tests = [test for suite in suites or list(SUITES) for test in load_suite(suite)]
    if names:
        tests = [test for test in tests if test.name in names or test.id in names]
    return tests


def _measure_once(test: GradedTest, challenge: dict[str, Any], resolver: Resolver,
                  short_seconds: float) -> dict[str, Any]:
    """One P7 figure for one side (harness.measure_in_process takes the best of three rounds of both runs;
    the seed-dependent facts do not need the repeats)."""
    if test.measure == "memory":
        return measure_memory_in_process(test, challenge, resolver)
    start = time.perf_counter()
    envelope = run_probe(test.probe, dict(challenge, steps=3 * int(challenge["steps"])), resolver)
    long_seconds = time.perf_counter() - start
    return {"cpu_seconds": max(0.0, long_seconds - short_seconds), "status": envelope["status"],
            "long_run": envelope.get("artefacts")}


def grade_once(test: GradedTest, seed: int, student: Resolver, is_reference: bool) -> tuple[str, str]:
    """(outcome, message) of one test at one seed, as grade_in_process would give it."""
    challenge = make_challenge(test, seed)
    start = time.perf_counter()
    envelope = run_probe(test.probe, challenge, student)
    short_seconds = time.perf_counter() - start
    measured = None
    if test.measure is not None and envelope["status"] == "ok":
        mine = _measure_once(test, challenge, student, short_seconds)
        if is_reference:
            theirs = mine
        else:
            start = time.perf_counter()
            run_probe(test.probe, challenge, Resolver(REFERENCE))
            theirs = _measure_once(test, challenge, Resolver(REFERENCE), time.perf_counter() - start)
        measured = {"student": mine, "reference": theirs}
    verdict = judge(test, challenge, envelope, measured)
    return verdict.outcome, verdict.message


def sweep(tests: Sequence[GradedTest], seeds: Iterable[int], expectation: Expectation,
          is_reference: bool = True) -> Outcome:
    """Grade `tests` at every seed in this process (the package importable as `tinytorch`)."""
    outcome = Outcome()
    student = Resolver(STUDENT)  # modules resolved once, as one grading would
    for seed in seeds:
        for test in tests:
            start = time.perf_counter()
            verdict, message = grade_once(test, seed, student, is_reference)
            outcome.seconds[test.id] = outcome.seconds.get(test.id, 0.0) + time.perf_counter() - start
            outcome.runs += 1
            passed = verdict == "passed"
            if test.id in expectation.sometimes:
                continue
            if test.id in expectation.fails and passed:
                outcome.failures.setdefault(test.id, []).append((seed, "passed: the bug was not caught"))
            elif test.id not in expectation.fails and not passed:
                outcome.failures.setdefault(test.id, []).append((seed, f"[{verdict}] {message[:300]}"))
    return outcome


def _worker(job: tuple[str, list[str], list[int], str | None, bool]) -> Outcome:
    package_root, test_ids, seeds, fixture, is_reference = job
    if package_root not in sys.path:
        sys.path.insert(0, package_root)
    return sweep(select_tests(names=test_ids), seeds, expectation_of(fixture), is_reference)


def run(package_root: Path, tests: Sequence[GradedTest], seeds: Sequence[int], fixture: str | None = None,
        jobs: int = 1) -> Outcome:
    """Sweep `seeds`, split over `jobs` processes (each imports the package once and grades its share).
    With jobs == 1 the sweep runs in this process, which must import the package as `tinytorch`."""
    is_reference = fixture is None and package_root.resolve() == (ROOT / "tinytorch_reference").resolve()
    ids = [test.id for test in tests]
    shares = [list(seeds[i::jobs]) for i in range(jobs)]
    work = [(str(package_root.resolve()), ids, share, fixture, is_reference) for share in shares if share]
    total = Outcome()
    if jobs == 1:
        for job in work:
            total.merge(_worker(job))
        return total
    # fork: the children inherit the loaded suites; each imports the package itself on first use.
    with multiprocessing.get_context("fork").Pool(len(work)) as pool:
        for part in pool.imap_unordered(_worker, work):
            total.merge(part)
    return total


def parse_seeds(text: str) -> list[int]:
    """"0-999", "5,17,300-310" → the seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def report(outcome: Outcome, seeds: Sequence[int], seconds: float, slowest: int = 8) -> str:
    lines = [f"{len(seeds)} seeds, {outcome.runs} test runs in {seconds:.1f} s wall"]
    for test_id, found in sorted(outcome.failures.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(str(seed) for seed, _ in sorted(found)[:20])
        more = f" (+{len(found) - 20} more)" if len(found) > 20 else ""
        lines.append(f"FAIL {test_id}: {len(found)} of {len(seeds)} seeds: {shown}{more}")
        lines.append(f"     e.g. seed {found[0][0]}: {found[0][1]}")
    if not outcome.failures:
        lines.append("no check failed at any seed")
    busiest = sorted(outcome.seconds.items(), key=lambda item: -item[1])[:slowest]
    lines.append("slowest (summed over workers): " + ", ".join(f"{t} {s:.1f} s" for t, s in busiest))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tinytorch", type=Path, default=ROOT / "tinytorch_reference",
                        help="folder that contains the tinytorch package (default: the reference)")
    parser.add_argument("--seeds", default="0-999", help='e.g. "0-999" or "3,17,40-45"')
    parser.add_argument("--random", type=int, default=0, metavar="N", help="also N random seeds below 2**31")
    parser.add_argument("--suite", action="append", choices=sorted(SUITES), help="repeatable; default all")
    parser.add_argument("--test", action="append", help="a test name or suite::name; repeatable")
    parser.add_argument("--expect", metavar="FIXTURE", help="grade a broken fixture against expected.py")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (seeds are split between them)")
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    seeds += random.SystemRandom().sample(range(1000, 2**31), args.random) if args.random else []
    tests = select_tests(args.suite, args.test)
    if args.jobs == 1:
        sys.path.insert(0, str(args.tinytorch.resolve()))
    start = time.perf_counter()
    outcome = run(args.tinytorch, tests, seeds, args.expect, max(1, args.jobs))
    print(report(outcome, seeds, time.perf_counter() - start))
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
