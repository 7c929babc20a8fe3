"""The free-space preflight before an upload is accepted: refuse (503) while the grader's own disks are nearly full.

A full disk must refuse the next upload, not half-accept it: the archive store needs room for the archive, and
SQLite (the embedded database) and the SQLite broker need room to commit the row and send its task. Refusing at
`min_free_bytes` keeps that room, so what was accepted before can still be graded and recorded.

    ensure_free_space(state_paths(settings), upload_bytes, settings.min_free_bytes)   # DiskFull, or nothing
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from ..errors import DiskFull
from ..settings import Settings

log = logging.getLogger(__name__)


def state_paths(settings: Settings) -> list[Path]:
    """Where the service writes what it accepts: the archive store, the data dir, and the folders of the SQLite
    database and the SQLite broker when those are files (a PostgreSQL or Redis keeps its own disk)."""
    paths = [settings.archives, settings.data_dir]
    for url in (settings.database_url, settings.broker_url.removeprefix("sqla+")):
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            paths.append(Path(parsed.database).parent)
    return paths


def ensure_free_space(paths: Iterable[Path], incoming_bytes: int, min_free_bytes: int) -> None:
    """DiskFull unless every file system under `paths` keeps `min_free_bytes` free after `incoming_bytes` more.

    The archive is written to each checked file system at most once, so asking every one for the whole upload
    errs on the safe side by at most one archive (20 MiB at the default upload limit)."""
    checked: set[int] = set()
    for path in paths:
        existing = _nearest_existing(path)
        device = existing.stat().st_dev
        if device in checked:
            continue
        checked.add(device)
        stats = os.statvfs(existing)
        # f_bavail, not f_bfree: the blocks reserved for root do not count, the grader may not run as root.
        free = stats.f_bavail * stats.f_frsize
        if free - incoming_bytes < min_free_bytes:
            log.error("refusing uploads: %s has %d bytes free, an upload of %d needs %d kept free", existing, free,
                      incoming_bytes, min_free_bytes)
            raise DiskFull()


def _nearest_existing(path: Path) -> Path:
    # The archive store's folder is made on the first upload: ask the file system it will be made on.
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")
