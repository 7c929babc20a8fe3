"""The webhook routes through a real FastAPI app on the test's database session: an instructor adds, lists,
reads deliveries, redelivers and removes; a TA reads but changes nothing (403); a student 403; another course's
instructor 404; hostile URLs and unknown events 400 naming the problem."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from webhook_receiver import new_student

from grader.api import deps
from grader.api.error_responses import install_error_handlers
from grader.courses.roster import add_member
from grader.courses.service import create_assignment, create_course, get_course
from grader.db.models import Submission, WebhookDelivery
from grader.lms.events import record_event
from grader.lms.webhooks.routes import router
from grader.settings import get_settings
from grader.users.service import create_user, issue_token

BASE = "/api/v1/instructor/courses/ml101/webhooks"


@dataclass
class Tokens:
    prof: str
    ta: str
    ada: str
    other_prof: str


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path))  # the embedded broker a redelivery is sent to
    monkeypatch.delenv("GRADER_BROKER_URL", raising=False)
    get_settings.cache_clear()
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[deps.db_session] = lambda: db_session
    with TestClient(app) as test_client:
        yield test_client
    get_settings.cache_clear()


@pytest.fixture
def tokens(db_session: Session) -> Tokens:
    prof, prof_token = create_user(db_session, "prof@uni.edu", "instructor")
    _, other_token = create_user(db_session, "other@uni.edu", "instructor")
    course = create_course(db_session, "ml101", "ML Systems 101")
    create_course(db_session, "ml999", "Another")
    add_member(db_session, course, prof.email, role="instructor")
    ta = add_member(db_session, course, "ta@uni.edu", role="ta")[0].user
    ada = add_member(db_session, course, "ada@uni.edu")[0].user
    return Tokens(prof_token, issue_token(db_session, ta)[1], issue_token(db_session, ada)[1], other_token)


def test_the_instructor_manages_endpoints(client: TestClient, tokens: Tokens, db_session: Session) -> None:
    made = client.post(BASE, json={"url": "https://lms.example.edu/hook", "events": ["grade.changed"]},
                       headers=_h(tokens.prof))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["grade.changed"] and body["status"] == "active"
    every = client.post(BASE, json={"url": "http://10.0.0.5:8080/x"}, headers=_h(tokens.prof)).json()
    assert every["events"] == ["submission.graded", "submission.failed", "grade.changed"]
    listed = client.get(BASE, headers=_h(tokens.ta))
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()] == [body["id"], every["id"]]
    assert all("secret" not in e for e in listed.json())  # shown once, when made

    # A grade change: one delivery, listed with its (so far no) attempts; the instructor can send it again.
    lab = create_assignment(db_session, get_course(db_session, "ml101"), "lab", "Lab")
    row = Submission(assignment_id=lab.id, user_id=new_student(db_session).id, archive_sha256="0" * 64,
                     status="graded", score=2.0, max_score=4.0)
    db_session.add(row)
    db_session.flush()
    record_event(db_session, "grade.changed", row)
    deliveries = client.get(f"{BASE}/{body['id']}/deliveries", headers=_h(tokens.prof)).json()
    assert [(d["event"], d["state"], d["attempts"]) for d in deliveries] == [("grade.changed", "pending", [])]
    delivery_id = deliveries[0]["id"]
    redelivered = client.post(f"/api/v1/instructor/webhook-deliveries/{delivery_id}/redeliver",
                              headers=_h(tokens.prof))
    assert redelivered.status_code == 202 and redelivered.json()["event_id"] == deliveries[0]["event_id"]
    assert client.post(f"/api/v1/instructor/webhook-deliveries/{delivery_id}/redeliver",
                       headers=_h(tokens.other_prof)).status_code == 404
    assert client.post(f"/api/v1/instructor/webhook-deliveries/{delivery_id}/redeliver",
                       headers=_h(tokens.ta)).status_code == 403
    assert client.post("/api/v1/instructor/webhook-deliveries/99999/redeliver",
                       headers=_h(tokens.prof)).status_code == 404

    assert client.delete(f"{BASE}/{body['id']}", headers=_h(tokens.ta)).status_code == 403
    assert client.delete(f"{BASE}/{body['id']}", headers=_h(tokens.prof)).status_code == 204
    assert db_session.scalars(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)).first() is None
    assert client.delete(f"{BASE}/{body['id']}", headers=_h(tokens.prof)).status_code == 404
    assert [e["id"] for e in client.get(BASE, headers=_h(tokens.prof)).json()] == [every["id"]]


@pytest.mark.parametrize("who, status", [("ada", 403), ("other_prof", 404), ("ta", 403)])
def test_who_may_not_add(client: TestClient, tokens: Tokens, who: str, status: int) -> None:
    answer = client.post(BASE, json={"url": "https://lms.example.edu/hook"}, headers=_h(getattr(tokens, who)))
    assert answer.status_code == status


@pytest.mark.parametrize("who, status", [("ada", 403), ("other_prof", 404)])
def test_who_may_not_read(client: TestClient, tokens: Tokens, who: str, status: int) -> None:
    assert client.get(BASE, headers=_h(getattr(tokens, who))).status_code == status
    made = client.post(BASE, json={"url": "https://lms.example.edu/hook"}, headers=_h(tokens.prof)).json()
    assert client.get(f"{BASE}/{made['id']}/deliveries", headers=_h(getattr(tokens, who))).status_code == status
    # An endpoint of ml101 is not found under another course's path, even for that course's instructor.
    assert client.get(f"/api/v1/instructor/courses/ml999/webhooks/{made['id']}/deliveries",
                      headers=_h(tokens.prof)).status_code == 404


def test_unknown_course_and_no_sign_in(client: TestClient, tokens: Tokens) -> None:
    assert client.get("/api/v1/instructor/courses/nope/webhooks", headers=_h(tokens.prof)).status_code == 404
    assert client.get(BASE).status_code == 401


@pytest.mark.parametrize("url, says", [
    ("ftp://lms.example.edu/hook", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("gopher://127.0.0.1:6379/_FLUSHALL", "http:// or https://"),
    ("lms.example.edu/hook", "http:// or https://"),
    ("https:///no-host", "must name a host"),
    ("https://user:pw@lms.example.edu/", "user name or password"),
    ("https://lms.example.edu:99999999/", "not a valid URL"),
    ("https://lms.example.edu/a b", "spaces or control"),
    ("https://lms.example.edu/\r\nX-Injected: 1", "spaces or control"),
    ("", "url is required"),
    ("https://x.edu/" + "a" * 2000, "at most 2000"),
])
def test_hostile_urls_are_refused(client: TestClient, tokens: Tokens, url: str, says: str) -> None:
    answer = client.post(BASE, json={"url": url}, headers=_h(tokens.prof))
    assert answer.status_code == 400 and says in answer.text, answer.text


@pytest.mark.parametrize("events, says", [
    (["submission.deleted"], "'submission.deleted' is not one of"),
    ([], "non-empty"),
])
def test_unknown_events_are_refused(client: TestClient, tokens: Tokens, events: list[str], says: str) -> None:
    answer = client.post(BASE, json={"url": "https://lms.example.edu/h", "events": events}, headers=_h(tokens.prof))
    assert answer.status_code == 400 and says in answer.text, answer.text
