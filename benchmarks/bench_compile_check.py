"""What does the pre-flight compile check cost an upload? Figures measured in one run, medians of REPEATS.

1. compile_problems on the reference package's 23 files: first seen (what a new package pays), and again
   (results are remembered by digest: what a resubmission pays for the files it did not change).
2. check_submission (the API's intake check) of the reference zip, first seen and again.
3. One valid 1 MB module: compiled on its own (what the check would cost without its per-file cap), and
   check_submission of a package holding it (over the cap: counted, not compiled).
4. The worst a hostile file at the per-file cap can do: one-character statements, time and peak memory (in a
   child process, so the peak is its own).

Run: `python benchmarks/bench_compile_check.py`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.intake import check_submission, compile_check  # noqa: E402
from grader.intake.compile_check import check_source, compile_problems  # noqa: E402
from grader.intake.sources import MAX_FILE_BYTES  # noqa: E402

REPEATS = 15
PACKAGE = ROOT / "tinytorch_reference" / "tinytorch"
WORST = f"""
import re, sys, time
sys.path.insert(0, {str(ROOT)!r})
from grader.intake.compile_check import check_source

def kib(field):
    return int(re.search(field + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))

source = b"a\\n" * ({MAX_FILE_BYTES} // 2)
# A child's ru_maxrss starts at its parent's: reset the high-water mark (Linux) and read it from /proc instead.
open("/proc/self/clear_refs", "w").write("5")
before = kib("VmRSS")
started = time.perf_counter()
assert check_source("tinytorch/worst.py", source) is None
print(time.perf_counter() - started, (kib("VmHWM") - before) / 1024)
"""

def median_ms(action: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def zip_of(files: dict[str, bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def main() -> None:
    sources = {"tinytorch/" + p.relative_to(PACKAGE).as_posix(): p.read_bytes() for p in sorted(PACKAGE.rglob("*.py"))}
    size = sum(map(len, sources.values()))
    forget = compile_check._REMEMBERED.clear
    compiled = median_ms(lambda: (forget(), compile_problems(sources)))
    again = median_ms(lambda: compile_problems(sources))
    print(f"reference package, {len(sources)} files, {size / 1024:.0f} KiB: compile check {compiled:.1f} ms, "
          f"{again:.2f} ms when seen again")

    module = (PACKAGE / "core" / "tensor.py").read_bytes().replace(b"from __future__", b"#")
    big = (module * (1024 * 1024 // len(module) + 1))[: 1024 * 1024]
    big = big[: big.rfind(b"\nclass ")] + b"\n"
    with tempfile.TemporaryDirectory() as scratch:
        reference = zip_of(sources, Path(scratch) / "reference.zip")
        checked = median_ms(lambda: (forget(), check_submission(reference)))
        print(f"check_submission of the reference zip: {checked:.1f} ms first seen, "
              f"{median_ms(lambda: check_submission(reference)):.1f} ms again")
        alone = median_ms(lambda: (forget(), check_source("tinytorch/big.py", big)))
        print(f"a valid {len(big) / 1024:.0f} KiB module compiled on its own: {alone:.0f} ms")
        with_big = zip_of({**sources, "tinytorch/core/big.py": big}, Path(scratch) / "big.zip")
        print(f"check_submission of the reference + that module (over the {MAX_FILE_BYTES // 1024} KiB cap, not "
              f"compiled): {median_ms(lambda: (forget(), check_submission(with_big))):.1f} ms")
    seconds, megabytes = map(float, subprocess.run([sys.executable, "-c", WORST], capture_output=True, text=True,
                                                   check=True).stdout.split())
    print(f"worst case at the cap ({MAX_FILE_BYTES // 1024} KiB of one-character statements): {seconds * 1000:.0f} ms, "
          f"+{megabytes:.0f} MB peak")


if __name__ == "__main__":
    main()
