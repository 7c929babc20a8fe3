"""The published contract against a live `grader serve` (a fresh SQLite data dir): schemathesis reads /openapi.json
and sends generated requests to every operation, as each kind of caller (anonymous, a student, a course's TA, an
instructor, an admin), and fails on a 5xx, a status code the schema does not list, a content type it does not
declare, or a body that does not match its declared schema. Whatever routes the app has when the test runs are
tested: nothing here names them. The upload (multipart) gets schemathesis's bounded generated bodies like any
other operation: random bytes, refused with a documented 400/413/422/429.

Bounded: a few examples per operation (MAX_EXAMPLES) and a fixed seed, so the runs take about a minute."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs  # schemathesis's own validator (dev extras)
import pytest
from running_server import GraderProcess, grader_env, grader_serve
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from grader.db.models import Course, Enrollment, User

MAX_EXAMPLES = 5
SEED = 20261206  # the same cases every run: a failure here reproduces
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
ROLES = ("anonymous", "student", "ta", "instructor", "admin")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraderProcess]:
    folder = tmp_path_factory.mktemp("contract")
    env = grader_env(GRADER_DATA_DIR=str(folder / "data"), GRADER_SANDBOX="bwrap")
    with grader_serve(env, folder / "serve.log") as running:
        yield running


@pytest.fixture(scope="module")
def tokens(server: GraderProcess) -> dict[str, str]:
    site_roles = {"student": "student", "ta": "student", "instructor": "instructor", "admin": "admin"}
    made = {role: server.add_user(f"{role}@contract.example.org", site) for role, site in site_roles.items()}
    make_ta_everywhere(Path(server.env["GRADER_DATA_DIR"]) / "grader.db", "ta@contract.example.org")
    return made


def make_ta_everywhere(database: Path, email: str) -> None:
    """The TA role is a course's, not the site's (`grader users add` has none): staff of every course there is."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session, session.begin():
            user = session.scalars(select(User).where(User.email == email)).one()
            for course in session.scalars(select(Course)):
                enrolled = session.scalars(select(Enrollment).where(Enrollment.user_id == user.id,
                                                                    Enrollment.course_id == course.id)).first()
                if enrolled is None:
                    session.add(Enrollment(user_id=user.id, course_id=course.id, role="ta"))
                else:
                    enrolled.role = "ta"
    finally:
        engine.dispose()


def schemathesis_run(url: str, token: str | None, folder: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
               "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
               "--request-timeout", "20", "--no-shrink", "--suppress-health-check", "all"]
    if token is not None:
        # Rotating the token revokes the one this run uses, and every later request would only meet a 401
        # (tests/grader/auth covers rotation).
        command += ["--header", f"Authorization: Bearer {token}", "--exclude-path", "/api/v1/me/token"]
    # One worker: with two threads, Python 3.11's ast.parse (hypothesis describing its strategies) now and then
    # fails with "SystemError: AST constructor recursion depth mismatch", an error of the tool, not the API.
    # No colours and a wide terminal: the output is read in a failure message.
    env = {**grader_env(), "NO_COLOR": "1", "COLUMNS": "200"}
    # In the test's folder: schemathesis keeps a cache (.schemathesis/) where it runs.
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder, timeout=600)


@pytest.mark.parametrize("role", ROLES)
def test_every_answer_is_documented(server: GraderProcess, tokens: dict[str, str], role: str,
                                    tmp_path: Path) -> None:
    done = schemathesis_run(server.url, tokens.get(role), tmp_path)
    assert done.returncode == 0, f"schemathesis as {role} found answers the schema does not promise:\n" \
                                 f"{done.stdout[-20000:]}\n{done.stderr[-3000:]}"
    # It ran: every operation was tested, none skipped because the schema failed to load.
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", done.stdout)
    assert selected is not None and int(selected[3]) == int(selected[1]) > 0, done.stdout


Answer = tuple[int, dict[str, str], bytes]


def fetch(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def declared(schema: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    """The JSON schema an operation declares for a status, its $refs resolvable against the whole document."""
    content = schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return {**content, "components": schema["components"]}


def test_a_422_body_is_the_declared_one(server: GraderProcess, tokens: dict[str, str]) -> None:
    """A malformed request (an upload with no file field) answers the body its 422 declares: one sentence
    naming the problem, not FastAPI's list of validation errors."""
    schema = json.loads(fetch(f"{server.url}/openapi.json")[2])
    boundary = "contract-boundary"
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="assignment"\r\n\r\ncapstone\r\n--{boundary}--\r\n'
    token = server.add_user("malformed@contract.example.org", "student")  # a schemathesis run may have used up others
    status, _, answer = fetch(f"{server.url}/api/v1/submissions", data=body.encode(), headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 422, answer
    detail = json.loads(answer)
    jsonschema_rs.validate(declared(schema, "/api/v1/submissions", "post", "422"), detail)
    assert "file" in detail["detail"] and "required" in detail["detail"].lower(), detail


def test_errors_and_metrics_are_sent_as_declared(server: GraderProcess) -> None:
    schema = json.loads(fetch(f"{server.url}/openapi.json")[2])
    status, _, answer = fetch(f"{server.url}/api/v1/submissions")
    assert status == 401
    jsonschema_rs.validate(declared(schema, "/api/v1/submissions", "get", "401"), json.loads(answer))
    status, headers, answer = fetch(f"{server.url}/metrics")
    (media_type,) = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert status == 200 and headers["content-type"] == media_type
    assert media_type.startswith("text/plain; version=") and b"# TYPE grader_queue_depth gauge" in answer
