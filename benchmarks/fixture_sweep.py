"""Sweep every broken fixture of tests/fixtures/students/ over many seeds: is each bug caught at every seed?

tests/fixtures/test_students.py grades each fixture at two seeds; a challenge that cannot tell a bug apart at
some other seed (every ReLU input negative, a padding of 0...) slips through it. This builds the fixtures
(students/build.py), then runs benchmarks/seed_sweep.py once per fixture (a fresh interpreter each: every
fixture is imported as plain `tinytorch`), one after the other.

    python benchmarks/fixture_sweep.py --seeds 0-199                  # the tests each fixture must fail
    python benchmarks/fixture_sweep.py --seeds 0-49 --all-tests       # also: no unrelated test fails
    python benchmarks/fixture_sweep.py --fixture relu_backward_wrong --seeds 0-999

Exit 1 when at some seed a fixture passes a test it must fail (or, with --all-tests, fails one it must not).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "students"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0-199")
    parser.add_argument("--fixture", action="append", help="repeatable; default every fixture")
    parser.add_argument("--all-tests", action="store_true",
                        help="grade every test, not only those the fixture must fail (slower)")
    args = parser.parse_args(argv)
    build = _load("student_fixtures_build", FIXTURES / "build.py")
    expected = _load("student_fixtures_expected", FIXTURES / "expected.py")
    names = args.fixture or sorted(expected.EXPECTED)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    failed = []
    with tempfile.TemporaryDirectory(prefix="fixture-sweep-") as temporary:
        for name in names:
            root = build.build_fixture(build.FIXTURES_BY_NAME[name], Path(temporary))
            command = [sys.executable, str(ROOT / "benchmarks" / "seed_sweep.py"), "--tinytorch", str(root),
                       "--expect", name, "--seeds", args.seeds]
            if not args.all_tests:
                for test_id in sorted(expected.EXPECTED[name].fails):
                    command += ["--test", test_id]
            start = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            print(f"== {name} ({time.perf_counter() - start:.0f} s)\n{done.stdout.strip()}", flush=True)
            if done.returncode != 0:
                failed.append(name)
                if done.returncode != 1:
                    print(done.stderr[-3000:], flush=True)
    print(f"fixtures with a seed where they were not graded as expected: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
