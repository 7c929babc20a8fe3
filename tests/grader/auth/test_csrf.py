"""Who is asking (grader/api/deps.py): a Bearer token, or the session cookie plus, for anything that changes
something, the session's CSRF token and a same-site Origin. Wrong, expired or ended cookies are 401."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import People
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from grader.auth import sessions
from grader.db.base import utcnow
from grader.db.models import WebSession
from grader.errors import Unauthorized
from grader.users.service import authenticate

LIFETIME = timedelta(days=14)


def _signed_in(client: TestClient, token: str) -> str:
    """Sign `client` in by cookie; the session's CSRF token."""
    assert client.post("/auth/token", json={"token": token}).status_code == 303
    return str(client.get("/api/v1/me").json()["csrf_token"])


def test_a_cookie_post_needs_the_csrf_token(auth_client: TestClient, people: People) -> None:
    csrf = _signed_in(auth_client, people.student_token)
    refused = auth_client.post("/api/v1/me/token")
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    wrong = auth_client.post("/api/v1/me/token", headers={"X-CSRF-Token": csrf[:-2] + "xx"})
    assert wrong.status_code == 403
    done = auth_client.post("/api/v1/me/token", headers={"X-CSRF-Token": csrf})
    assert done.status_code == 201 and done.json()["token"].startswith("tt_")
    # A plain HTML form carries it as a field instead.
    form = auth_client.post("/api/v1/me/token", data={"csrf_token": csrf})
    assert form.status_code == 201
    assert auth_client.post("/api/v1/me/token", data={"csrf_token": "nope"}).status_code == 403
    # Reading needs no CSRF token.
    assert auth_client.get("/api/v1/me").status_code == 200


def test_the_dashboard_routes_take_the_cookie_with_the_same_rules(auth_client: TestClient, people: People) -> None:
    csrf = _signed_in(auth_client, people.instructor_token)
    listed = auth_client.get("/api/v1/instructor/courses")
    assert listed.status_code == 200 and "cs329" in [c["slug"] for c in listed.json()]
    regrade = "/api/v1/instructor/courses/cs329/assignments/none/regrade"
    assert auth_client.post(regrade).status_code == 403
    assert auth_client.post(regrade, headers={"X-CSRF-Token": csrf}).status_code == 404  # past the CSRF check


def test_bearer_requests_need_no_csrf_token(auth_client: TestClient, people: People) -> None:
    response = auth_client.post("/api/v1/me/token", headers={"Authorization": f"Bearer {people.student_token}",
                                                             "Origin": "https://elsewhere.example"})
    assert response.status_code == 201
    me = auth_client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.json()['token']}"})
    assert me.status_code == 200 and me.json()["csrf_token"] is None


def test_a_bad_bearer_header_is_401_even_beside_a_good_cookie(auth_client: TestClient, people: People) -> None:
    _signed_in(auth_client, people.student_token)
    for header in ("Bearer tt_wrong", "Basic abc", "Bearer "):
        assert auth_client.get("/api/v1/me", headers={"Authorization": header}).status_code == 401


def test_cross_site_requests_are_refused_even_with_the_token(auth_client: TestClient, people: People) -> None:
    csrf = _signed_in(auth_client, people.student_token)
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Referer": "https://evil.example/page"}, {"Origin": "http://testserver.evil.example"}):
        response = auth_client.post("/api/v1/me/token", headers={"X-CSRF-Token": csrf, **headers})
        assert response.status_code == 403 and "cross-site request refused" in response.json()["detail"], headers
    same = auth_client.post("/api/v1/me/token", headers={"X-CSRF-Token": csrf, "Origin": "http://testserver",
                                                         "Referer": "http://testserver/"})
    assert same.status_code == 201
    # Signing in is checked the same way (no login CSRF: another site cannot sign this browser in as its user).
    forged = auth_client.post("/auth/token", json={"token": people.student_token},
                              headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and "set-cookie" not in forged.headers


def test_wrong_expired_and_ended_cookies_are_401(auth_client: TestClient, people: People,
                                                 db_session: Session) -> None:
    for value in ("garbage", "x" * 4000, "", "a" * 43):
        auth_client.cookies.set("tt_session", value)
        response = auth_client.get("/api/v1/me")
        assert response.status_code == 401, value
        assert auth_client.post("/api/v1/me/token", headers={"X-CSRF-Token": "x"}).status_code == 401
    # Expired: started 15 days ago and never used since.
    _, old = sessions.start_session(db_session, people.student, LIFETIME, now=utcnow() - timedelta(days=15))
    auth_client.cookies.set("tt_session", old)
    assert auth_client.get("/api/v1/me").status_code == 401
    # Ended by signing out: the old cookie, sent again, opens nothing.
    auth_client.cookies.clear()
    csrf = _signed_in(auth_client, people.student_token)
    secret = auth_client.cookies["tt_session"]
    assert auth_client.post("/auth/sign-out", headers={"X-CSRF-Token": csrf}).status_code == 303
    auth_client.cookies.set("tt_session", secret)
    assert auth_client.get("/api/v1/me").status_code == 401


def test_sign_out_needs_the_csrf_token_of_a_live_session(auth_client: TestClient, people: People) -> None:
    _signed_in(auth_client, people.student_token)
    refused = auth_client.post("/auth/sign-out")
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert auth_client.get("/api/v1/me").status_code == 200  # still signed in
    # Without a live session there is nothing to protect: signing out just clears the cookie.
    auth_client.cookies.set("tt_session", "garbage")
    assert auth_client.post("/auth/sign-out").status_code == 303


def test_a_session_slides_but_not_on_every_request(db_session: Session, people: People) -> None:
    start = utcnow()
    row, secret = sessions.start_session(db_session, people.student, LIFETIME, now=start)
    _, user, slid = sessions.session_user(db_session, secret, LIFETIME, now=start + timedelta(seconds=30))
    assert user.id == people.student.id and not slid and row.expires_at == start + LIFETIME
    later = start + timedelta(days=10)
    _, _, slid = sessions.session_user(db_session, secret, LIFETIME, now=later)
    assert slid and row.last_seen_at == later and row.expires_at == later + LIFETIME
    # Used within its (slid) lifetime it lives on; past it, it is over.
    sessions.session_user(db_session, secret, LIFETIME, now=later + timedelta(days=13))
    with pytest.raises(Unauthorized):
        sessions.session_user(db_session, secret, LIFETIME, now=later + timedelta(days=13) + LIFETIME)
    assert db_session.get(WebSession, row.id) is not None


def test_rotating_the_token_revokes_the_old_ones(auth_client: TestClient, people: People,
                                                 db_session: Session) -> None:
    old = people.student_token
    rotated = auth_client.post("/api/v1/me/token", headers={"Authorization": f"Bearer {old}"})
    assert rotated.status_code == 201
    new, prefix = rotated.json()["token"], rotated.json()["prefix"]
    assert new.startswith(prefix) and new != old
    assert auth_client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    me = auth_client.get("/api/v1/me", headers={"Authorization": f"Bearer {new}"})
    assert [t["prefix"] for t in me.json()["tokens"]] == [prefix]
    assert authenticate(db_session, new).id == people.student.id
