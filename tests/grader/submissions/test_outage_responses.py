"""The API's answers during an outage, through the app itself: a database that does not answer, and a process
out of file descriptors, give 503 + Retry-After + a sentence (JSON for the API, a page for a browser), never a
500 and never a 4xx that blames the student."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from running_server import free_port
from submission_helpers import REPO

from grader.api.app import create_app
from grader.settings import get_settings

DATABASE_SENTENCE = "The grader's database is not answering; nothing was submitted. Try again in a minute."
FILES_SENTENCE = ("The grader has too many connections open right now; nothing was submitted. "
                  "Try again in a minute.")


@pytest.fixture
def no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app with its database on a port nothing listens on."""
    monkeypatch.setenv("GRADER_DATABASE_URL", f"postgresql://grader@127.0.0.1:{free_port()}/grader")
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GRADER_SWEEP_INTERVAL_S", "0")
    monkeypatch.setenv("GRADER_UNAVAILABLE_RETRY_AFTER_S", "42")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        yield client
    get_settings.cache_clear()


def test_every_route_needing_the_database_says_so(no_database: TestClient, reference_zip: Path) -> None:
    token = {"Authorization": "Bearer tt_whoever"}
    with reference_zip.open("rb") as body:
        answers = [
            no_database.post("/api/v1/submissions", files={"file": ("r.zip", body, "application/zip")}, headers=token),
            no_database.get("/api/v1/submissions", headers=token),
            no_database.get("/api/v1/submissions/00000000-0000-0000-0000-000000000000", headers=token),
            no_database.get("/api/v1/instructor/courses", headers=token),
        ]
    for answer in answers:
        assert answer.status_code == 503, answer.request.url
        assert answer.headers["retry-after"] == "42"
        assert answer.json() == {"detail": DATABASE_SENTENCE}
    # A browser that opens such a URL reads the same sentence on a page.
    page = no_database.get("/api/v1/submissions", headers={**token, "Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "The grader&#x27;s database is not answering; nothing was submitted." in page.text
    # The student page itself needs no database: it loads, and its script shows the API's sentence.
    assert no_database.get("/").status_code == 200
    assert "Upload refused: " in no_database.get("/static/student.js").text


# Run in a process of its own: it uses up its descriptors, which pytest's process must not do.
EXHAUST_FILES = r"""
import json, os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
from fastapi.testclient import TestClient
from grader.api.app import create_app
from grader.bootstrap import prepare_database
from grader.db.session import session_scope
from grader.users.service import create_user

prepare_database()
with session_scope(write=True) as session:
    token = create_user(session, "fd@example.org", "student")[1]
reference, big = sys.argv[1], sys.argv[2]
headers = {"Authorization": f"Bearer {token}"}

uploads = {path: open(path, "rb").read() for path in (reference, big)}  # read now: no file may be opened later

def post(path):
    answer = client.post("/api/v1/submissions", files={"file": ("u.zip", uploads[path], "application/zip")},
                         headers=headers)
    return {"status": answer.status_code, "retry_after": answer.headers.get("retry-after"), "body": answer.json()}

with TestClient(create_app()) as client:
    results = {"before": post(reference)}
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    results["small"] = post(reference)  # the upload's temporary file cannot be made
    results["big"] = post(big)  # over 1 MB: the multipart parser's own spool file cannot be made
    for fd in held:
        os.close(fd)
    results["after"] = post(reference)
print(json.dumps(results))
"""


def test_out_of_file_descriptors_is_a_503_with_words(isolated_env: Path, isolated_url: str, reference_zip: Path,
                                                     tmp_path: Path) -> None:
    big = tmp_path / "big.zip"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    env = {**os.environ, "GRADER_SWEEP_INTERVAL_S": "0", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", EXHAUST_FILES, str(reference_zip), str(big)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["before"]["status"] == results["after"]["status"] == 202, results
    for name in ("small", "big"):
        assert results[name] == {"status": 503, "retry_after": "60", "body": {"detail": FILES_SENTENCE}}, results
