"""The course's own tests against its solution and against our reference, side by side.

    python benchmarks/course_tests.py COURSE_CHECKOUT --course-package PATH [--modules 01,09] [--timeout 600]

COURSE_CHECKOUT is a checkout of the course's repository made by hand (it holds `tests/NN_<module>/`).
PATH is the course's solution exported by hand: a folder holding `tinytorch/` (or that `tinytorch/`
itself). This script builds no export. For each side it copies the checkout into a temporary folder,
swaps its `tinytorch/` package for that side's, and runs one pytest per module folder, the way a
student runs them. It prints each folder's pass counts and names every test that passes on the
course's solution but not on ours: those are the places where our reference is no drop-in.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "tinytorch_reference"


def package_dir(path: Path) -> Path:
    """The `tinytorch/` folder itself, given it or the folder holding it."""
    path = path.resolve()
    if path.name != "tinytorch" and (path / "tinytorch").is_dir():
        path = path / "tinytorch"
    if not (path / "__init__.py").is_file():
        raise SystemExit(f"{path}: not a tinytorch package (no __init__.py)")
    return path


def module_folders(checkout: Path, wanted: set[str] | None) -> list[str]:
    folders = sorted(p.name for p in (checkout / "tests").iterdir() if p.is_dir() and p.name[:2].isdigit())
    return [f for f in folders if wanted is None or f[:2] in wanted]


def tree_with(checkout: Path, package: Path, into: Path) -> Path:
    """A copy of the checkout whose tinytorch/ is `package` (no .git, no caches)."""
    skip = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache")
    shutil.copytree(checkout, into, ignore=skip, symlinks=True)
    shutil.rmtree(into / "tinytorch", ignore_errors=True)
    shutil.copytree(package, into / "tinytorch", ignore=skip)
    return into


def run_folder(tree: Path, folder: str, timeout: float) -> dict[str, str]:
    """One pytest over tests/<folder>; each test id mapped to passed/failed/error/skipped."""
    report = tree / f"{folder}.xml"
    # Only the copy on the path: our worktree's packages must not shadow the course's imports.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "pytest", f"tests/{folder}", "-q", "-p", "no:cacheprovider",
               f"--junitxml={report}", "-o", "junit_family=xunit1",
               # Some course test files import modules the course no longer has: count the rest.
               "--continue-on-collection-errors"]
    try:
        subprocess.run(command, cwd=tree, env=env, timeout=timeout, capture_output=True, check=False)
    except subprocess.TimeoutExpired:
        return {f"{folder}: timed out after {timeout:.0f}s": "error"}
    if not report.exists():
        return {f"{folder}: pytest wrote no report": "error"}
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcome = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
        outcomes[name] = {"failure": "failed"}.get(outcome, outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="the course's repository, checked out by hand")
    parser.add_argument("--course-package", type=Path, required=True,
                        help="the course's solution exported by hand (tinytorch/ or its parent)")
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="ours (default: tinytorch_reference)")
    parser.add_argument("--modules", help="comma-separated module numbers, e.g. 01,09 (default: all)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per pytest run")
    args = parser.parse_args(argv)
    checkout = args.checkout.resolve()
    if not (checkout / "tests").is_dir():
        raise SystemExit(f"{checkout}: no tests/ folder; give the course's repository")
    wanted = set(args.modules.split(",")) if args.modules else None
    folders = module_folders(checkout, wanted)
    sides = {"course": package_dir(args.course_package), "ours": package_dir(args.reference)}

    with tempfile.TemporaryDirectory(prefix="course-tests-") as scratch:
        trees = {side: tree_with(checkout, pkg, Path(scratch) / side) for side, pkg in sides.items()}
        print(f"{'folder':<20} {'course':>9} {'ours':>9}  seconds (course / ours)")
        totals = {"course": [0, 0], "ours": [0, 0]}
        missing: list[str] = []
        for folder in folders:
            results, seconds = {}, {}
            for side, tree in trees.items():
                start = time.perf_counter()
                results[side] = run_folder(tree, folder, args.timeout)
                seconds[side] = time.perf_counter() - start
            cells = []
            for side in ("course", "ours"):
                passed = sum(o == "passed" for o in results[side].values())
                totals[side][0] += passed
                totals[side][1] += len(results[side])
                cells.append(f"{passed}/{len(results[side])}")
            print(f"{folder:<20} {cells[0]:>9} {cells[1]:>9}  {seconds['course']:.1f} / {seconds['ours']:.1f}",
                  flush=True)
            missing += [f"{folder}: {name} ({results['ours'].get(name, 'absent')})"
                        for name, outcome in results["course"].items()
                        if outcome == "passed" and results["ours"].get(name) != "passed"]
        course, ours = totals["course"], totals["ours"]
        print(f"{'total':<20} {course[0]:>4}/{course[1]:<4} {ours[0]:>4}/{ours[1]:<4}")
        shared = course[0] - len(missing)
        print(f"\nof the {course[0]} tests passing on the course's solution, {shared} pass on ours")
        for line in missing:
            print("  " + line)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
