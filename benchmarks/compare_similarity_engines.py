"""copydetect (PyPI) and Dolos (@dodona/dolos-lib on npm) on the same similarity fixtures: scores per case, time
per comparison, and how each is given starter code. The figures in docs/similarity.md come from this script.

    npm i --prefix /tmp/dolos @dodona/dolos-lib          # once; node >= 20
    python benchmarks/compare_similarity_engines.py --dolos /tmp/dolos

Dolos compares files, so each package is given to it as one file (its .py files in path order); copydetect goes
through grader.similarity.engine (per-file fingerprints of the whole package).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fixtures, as tests.* modules

from grader.similarity import engine  # noqa: E402
from grader.similarity.sources import package_sources  # noqa: E402
from tests.fixtures.similarity import build  # noqa: E402

SCRIPT = """
import { Dolos } from "@dodona/dolos-lib";
const [ignore, ...files] = process.argv.slice(2);
const dolos = new Dolos({ language: "python" });
const report = await dolos.analyzePaths(files, ignore === "-" ? undefined : ignore);
const out = report.allPairs().map(p => ({ a: p.leftFile.path, b: p.rightFile.path, similarity: p.similarity }));
console.log(JSON.stringify(out));
"""

CASES = [  # (case, left, right, boilerplate?)
    ("reference handed in unchanged", "copy", "reference", False),
    ("renamed locals, reordered functions", "renamed", "reference", False),
    ("comments/docstrings stripped, re-spaced", "stripped", "reference", False),
    ("honest vs reference", "honest1", "reference", False),
    ("honest vs honest", "honest1", "honest2", False),
    ("two students sharing one module", "shared1", "shared2", False),
    ("honest + starter code, no boilerplate", "starter_a", "starter_b", False),
    ("honest + starter code, starter as boilerplate", "starter_a", "starter_b", True),
]


def packages(root: Path) -> dict[str, Path]:
    made = {"reference": build.reference(root / "reference"), "copy": build.reference(root / "copy"),
            "renamed": build.renamed(root / "renamed"), "stripped": build.stripped(root / "stripped"),
            "honest1": build.honest(root / "honest1", 1), "honest2": build.honest(root / "honest2", 2),
            "shared1": build.shared_module(root / "shared1", 11), "shared2": build.shared_module(root / "shared2", 12),
            "starter_a": build.with_starter(build.honest(root / "starter_a", 21)),
            "starter_b": build.with_starter(build.honest(root / "starter_b", 22)),
            "starter": build.starter(root / "starter")}
    return made


def one_file(package: Path, dest: Path) -> Path:
    sources = package_sources(package)
    dest.write_text("\n\n".join(sources[path] for path in sorted(sources)))
    return dest


def dolos(dolos_dir: Path, files: list[Path], ignore: Path | None) -> tuple[dict[frozenset[str], float], float]:
    script = dolos_dir / "compare.mjs"
    script.write_text(SCRIPT)
    started = time.perf_counter()
    out = subprocess.run(["node", str(script), str(ignore or "-"), *map(str, files)], capture_output=True, text=True,
                         check=True, cwd=dolos_dir).stdout
    seconds = time.perf_counter() - started
    return {frozenset((Path(p["a"]).stem, Path(p["b"]).stem)): p["similarity"] for p in json.loads(out)}, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dolos", type=Path, required=True, help="a folder where @dodona/dolos-lib is installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        made = packages(root)
        started = time.perf_counter()
        docs = {name: engine.fingerprint(package_sources(path)) for name, path in made.items()}
        fingerprint_s = (time.perf_counter() - started) / len(docs)
        flat = {name: one_file(path, root / f"{name}.py") for name, path in made.items()}
        names = [n for n in flat if n != "starter"]
        plain, all_s = dolos(args.dolos, [flat[n] for n in names], None)
        ignored, _ = dolos(args.dolos, [flat["starter_a"], flat["starter_b"]], flat["starter"])
        _, pair_s = dolos(args.dolos, [flat["copy"], flat["reference"]], None)
        print("| case | copydetect | Dolos |\n| --- | --- | --- |")
        compare_s = []
        for case, left, right, boiler in CASES:
            started = time.perf_counter()
            ours = engine.compare(docs[left], docs[right], docs["starter"].hashes if boiler else None).score
            compare_s.append(time.perf_counter() - started)
            theirs = (ignored if boiler else plain)[frozenset((left, right))]
            print(f"| {case} | {ours:.2f} | {theirs:.2f} |")
        print(f"\ncopydetect (in-process): fingerprint {fingerprint_s * 1000:.0f} ms a package, compare "
              f"{sum(compare_s) / len(compare_s) * 1000:.1f} ms a pair")
        print(f"Dolos (node process): one pair {pair_s * 1000:.0f} ms (spawn + parse + compare); "
              f"all {len(names)} packages at once {all_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
