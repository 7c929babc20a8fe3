"""What a grade was graded with: a digest of the suites' source, so a regrade can say what changed."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parents[2] / "capstone_tests"


@cache
def suite_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(SUITES_DIR.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".toml"}:
            digest.update(str(path.relative_to(SUITES_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
