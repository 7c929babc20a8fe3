"""PostgreSQL stopped for ~20 s under a real `grader serve` while students upload: every refused request gets 503,
Retry-After and the sentence saying nothing was submitted; every accepted upload is stored; uploads work again
once the database is back."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from outage_services import get, postgres_cluster, serve_api, upload
from running_server import grader_env
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from grader.db.models import Submission
from grader.intake import ArchiveStore

DOWN_FOR_S = 20
CLIENTS = 3
DATABASE_SENTENCE = "The grader's database is not answering; nothing was submitted. Try again in a minute."


def test_database_outage_refuses_with_words_and_loses_nothing(tmp_path: Path, reference_zip: Path) -> None:
    with postgres_cluster(tmp_path / "pg") as postgres:
        env = grader_env(GRADER_DATABASE_URL=postgres.url, GRADER_DATA_DIR=str(tmp_path / "data"))
        with serve_api(env, tmp_path / "serve.log") as server:
            token = server.add_user("outage@example.org", "student")
            answers: list[tuple[float, str, int, dict[str, str], Any]] = []
            stop = threading.Event()
            started = time.monotonic()

            def client(number: int) -> None:
                while not stop.is_set():
                    # Mostly uploads, and reads between them: both need the database.
                    for kind in ("upload", "upload", "list"):
                        sent = time.monotonic()
                        status, headers, body = (upload(server.url, token, reference_zip) if kind == "upload"
                                                 else get(server.url, token, "/api/v1/submissions"))
                        answers.append((sent - started, kind, status, headers, body))
                        time.sleep(0.2)

            threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
            for thread in threads:
                thread.start()
            time.sleep(5)
            postgres.stop()
            stopped_at = time.monotonic() - started
            time.sleep(DOWN_FOR_S)
            postgres.start()
            restarted_at = time.monotonic() - started
            time.sleep(10)
            stop.set()
            for thread in threads:
                thread.join(timeout=90)
                assert not thread.is_alive(), "a client hung"

        refused = [a for a in answers if a[2] == 503]
        unexpected = [(*a[1:3], a[4]) for a in answers if a[2] not in (200, 202, 503)]
        assert not unexpected, f"answers other than 200/202/503: {unexpected[:5]}"
        assert refused, "no request was refused while PostgreSQL was down"
        for _, kind, _, headers, body in refused:
            assert int(headers["retry-after"]) >= 1, (kind, headers)
            assert body == {"detail": DATABASE_SENTENCE}, (kind, body)
        # Refusals only while the database was down (plus the moment it takes the pool to notice either way).
        assert all(stopped_at - 1 <= at <= restarted_at + 5 for at, *_ in refused), \
            [(round(at, 1), stopped_at, restarted_at) for at, *_ in refused]
        accepted = {a[4]["id"] for a in answers if a[1] == "upload" and a[2] == 202}
        assert any(a[0] > restarted_at + 5 and a[2] == 202 for a in answers), "no upload accepted after the restart"

        engine = create_engine(postgres.url, poolclass=NullPool)
        with engine.connect() as connection:
            stored = {str(row.id): row.archive_sha256 for row in connection.execute(
                select(Submission.id, Submission.archive_sha256))}
        engine.dispose()
        assert accepted <= set(stored), f"accepted but not stored: {accepted - set(stored)}"
        store = ArchiveStore(tmp_path / "data" / "archives")
        assert all(store.exists(stored[s]) for s in accepted)
        print(f"{len(answers)} requests, {len(accepted)} uploads accepted, {len(refused)} refused with 503 while "
              f"PostgreSQL was down ({stopped_at:.1f}-{restarted_at:.1f} s)")
