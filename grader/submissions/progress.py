"""Per-test progress of a grading, written by the worker and read by the events stream.

Kept in Redis when the broker is Redis (workers on other machines), else in a small JSON file under data_dir
(the embedded `grader serve`, where API and worker share a disk). Progress is advisory: the row's status and
results are the truth, so a lost progress record only makes the bar jump.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..settings import get_settings

TTL_S = 24 * 3600


def _redis() -> Any | None:
    url = get_settings().broker_url
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    return redis.Redis.from_url(url)


def _path(submission_id: str) -> Path:
    return get_settings().data_dir / "progress" / f"{submission_id}.json"


def publish(submission_id: str, done: int, total: int, current: str | None = None) -> None:
    record = json.dumps({"done": done, "total": total, "current": current})
    client = _redis()
    if client is not None:
        client.set(f"grader:progress:{submission_id}", record, ex=TTL_S)
        return
    path = _path(submission_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Replaced whole, so a reader never sees half a record.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".progress-")
    with os.fdopen(fd, "w") as out:
        out.write(record)
    os.replace(temp, path)


def read(submission_id: str) -> dict[str, Any] | None:
    client = _redis()
    if client is not None:
        raw = client.get(f"grader:progress:{submission_id}")
    else:
        path = _path(submission_id)
        raw = path.read_text() if path.exists() else None
    return json.loads(raw) if raw else None
