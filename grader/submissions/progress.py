"""Per-test progress of a grading, written by the worker and read by the events stream.

Kept in Redis when the broker is Redis (workers on other machines), else in a small JSON file under data_dir
(the embedded `grader serve`, where API and worker share a disk). Progress is advisory: the row's status and
results are the truth, so a lost progress record only makes the bar jump.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from ..settings import get_settings

TTL_S = 24 * 3600
log = logging.getLogger(__name__)


def _redis() -> Any | None:
    url = get_settings().broker_url
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    # Short timeouts: a Redis that stopped answering must not hold a grading up (progress is advisory).
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _path(submission_id: str) -> Path:
    return get_settings().data_dir / "progress" / f"{submission_id}.json"


def publish(submission_id: str, done: int, total: int, current: str | None = None) -> None:
    """Record progress; never raises: a grading must not fail because Redis or the disk is gone meanwhile."""
    try:
        _publish(submission_id, json.dumps({"done": done, "total": total, "current": current}))
    except Exception as error:  # advisory only: the grading's result is the truth, and it is still written
        log.warning("progress of %s not published (%s: %s); grading goes on", submission_id,
                    type(error).__name__, error)


def _publish(submission_id: str, record: str) -> None:
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
    """The last record, or None when there is none or it cannot be read now (the status still shows)."""
    try:
        client = _redis()
        if client is not None:
            raw = client.get(f"grader:progress:{submission_id}")
        else:
            path = _path(submission_id)
            raw = path.read_text() if path.exists() else None
        return json.loads(raw) if raw else None
    except Exception as error:
        log.warning("progress of %s not readable (%s: %s)", submission_id, type(error).__name__, error)
        return None
