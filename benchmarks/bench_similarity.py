"""What does one new submission's comparison cost against a class of 200 and of 1,000?

A class is written straight into a fresh database (SQLite by default; --database-url for PostgreSQL): N graded
students whose counting submissions are already fingerprinted and compared (a pool of 50 distinct honest packages,
plus 5 copies of the reference; the new submission's cost does not depend on whether the stored ones repeat).
Then the task's body (grader.similarity.comparison.compare_counting: unpack the stored archive, fingerprint,
screen every stored document by its sampled keys, compare the candidates in full, write the pairs) runs for a
new honest submission and for a new copy of the reference, REPEATS times each (fresh submissions), in a child
process per class size so each peak RSS is its own.

Run: `python benchmarks/bench_similarity.py [--sizes 200 1000] [--database-url URL]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fixtures and test helpers, as tests.* modules

POOL = 50
COPIES = 5
REPEATS = 5


def run_class(size: int, url: str | None) -> dict[str, float]:
    from grader.bootstrap import prepare_database
    from grader.db import migrate
    from grader.db.base import utcnow
    from grader.db.models import SimilarityDocument, Submission
    from grader.db.session import session_scope
    from grader.intake import ArchiveStore
    from grader.settings import get_settings
    from grader.similarity import engine
    from grader.similarity.comparison import compare_counting
    from grader.similarity.sources import package_sources
    from grader.users.service import create_user
    from tests.fixtures.similarity import build
    from tests.grader.similarity.helpers import capstone, graded, student, zip_package

    scratch = Path(tempfile.mkdtemp(prefix="bench-similarity-"))
    os.environ["GRADER_DATA_DIR"] = str(scratch / "data")
    os.environ["GRADER_DATABASE_URL"] = url or f"sqlite:///{scratch / 'grader.db'}"
    get_settings.cache_clear()
    migrate.upgrade(os.environ["GRADER_DATABASE_URL"])
    prepare_database()
    pool = [engine.fingerprint(package_sources(build.honest(scratch / f"p{i}", 1000 + i))) for i in range(POOL)]
    pool += [engine.fingerprint(package_sources(build.renamed(scratch / f"c{i}"))) for i in range(1)]
    blobs = [(engine.encode(doc), engine.encode_keys(doc.keys()), len(doc.paths)) for doc in pool]
    sha = ArchiveStore(get_settings().archives).put(zip_package(build.honest(scratch / "x", 1), scratch / "x.zip"))
    with session_scope(write=True) as session:
        assignment = capstone(session)
        for i in range(size):
            user = create_user(session, f"s{i}@uni.edu", "student")[0]
            row = Submission(id=uuid.uuid4(), assignment_id=assignment.id, user_id=user.id, archive_sha256=sha,
                             status="graded", score=50.0, max_score=100.0, graded_at=utcnow())
            session.add(row)
            session.flush()
            blob, keys, files = blobs[POOL] if i < COPIES else blobs[i % POOL]
            session.add(SimilarityDocument(submission_id=row.id, assignment_id=assignment.id, user_id=user.id,
                                           counting=True, files=files, fingerprints=blob, keys=keys,
                                           compared_at=utcnow()))
    timings: dict[str, list[float]] = {"honest": [], "copy": []}
    for repeat in range(REPEATS):
        for kind in timings:
            package = (build.honest(scratch / f"n{repeat}", 5000 + repeat) if kind == "honest"
                       else build.stripped(scratch / f"k{repeat}"))
            with session_scope(write=True) as session:
                # graded() records the grade as the worker does (the hook's message goes to a broker nobody reads)
                key = graded(session, student(session, f"new-{kind}-{repeat}"), package).id
            started = time.perf_counter()
            assert compare_counting(key) == "compared"
            timings[kind].append(time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"size": size, "honest_s": statistics.median(timings["honest"]),
            "copy_s": statistics.median(timings["copy"]), "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run_class(args.child, args.database_url)))
        return
    print("| class | new honest submission | new copy | peak RSS |\n| --- | --- | --- | --- |")
    for size in args.sizes:
        command = [sys.executable, __file__, "--child", str(size)]
        if args.database_url:
            command += ["--database-url", args.database_url]
        out = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        print(f"| {size} | {out['honest_s'] * 1000:.0f} ms | {out['copy_s'] * 1000:.0f} ms | "
              f"{out['peak_rss_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
