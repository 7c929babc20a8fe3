"""The whole sign-in by email, against a real SMTP server: ask, receive, open the link, press the button, and be
signed in by cookie; and the other ways in (an API token pasted into the page) and out."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from conftest import Mailbox, People, auth_app
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import SignInLink, WebSession
from grader.users.service import hash_token

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _link_in(mailbox: Mailbox, to: str) -> str:
    assert mailbox.arrived.wait(10), "no mail arrived at the SMTP server"
    recipients, message = mailbox.received[-1]
    assert recipients == [to] and message["To"] == to
    assert message["Subject"] == "Your TinyTorch grader sign-in link"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    urls = re.findall(r"https?://\S+", body)
    assert len(urls) == 1, body
    return urls[0]


def _cookie_header(response_headers: list[tuple[str, str]]) -> str:
    cookies = [value for name, value in response_headers if name.lower() == "set-cookie"]
    assert len(cookies) == 1, cookies
    return cookies[0]


def test_a_student_signs_in_from_the_emailed_link(auth_client: TestClient, smtp_server: Mailbox, people: People,
                                                  db_session: Session) -> None:
    asked = auth_client.post("/auth/link", json={"email": " Ada@Example.edu "})
    assert asked.status_code == 202 and "on its way" in asked.json()["detail"]
    url = _link_in(smtp_server, "ada@example.edu")
    assert url.startswith("http://testserver/sign-in/link?token=")
    token = parse_qs(urlsplit(url).query)["token"][0]
    # Only the hash is stored.
    stored = db_session.scalars(select(SignInLink.token_hash).where(SignInLink.user_id == people.student.id)).all()
    assert stored == [hash_token(token)]

    # Opening the link (as a mail scanner would, too) signs nobody in: it shows whom, and a button.
    page = auth_client.get(urlsplit(url).path + "?" + urlsplit(url).query, headers=HTML)
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert "Sign in as ada@example.edu" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "same-origin"
    assert 'action="/auth/link/redeem"' in page.text and f'value="{token}"' in page.text
    assert auth_client.get("/api/v1/me").status_code == 401

    # The button: a form post.
    signed_in = auth_client.post("/auth/link/redeem", data={"token": token}, headers=HTML)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    cookie = _cookie_header(signed_in.headers.multi_items())
    assert cookie.startswith("tt_session=")
    flags = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert f"max-age={14 * 24 * 3600}" in flags
    assert "secure" not in flags  # plain http, and no setting says otherwise
    secret = cookie.split(";")[0].split("=", 1)[1]
    row = db_session.scalar(select(WebSession).where(WebSession.user_id == people.student.id))
    assert row is not None and row.token_hash == hash_token(secret) and secret not in (row.csrf_token,)
    assert timedelta(days=13, hours=23) < row.expires_at - row.created_at <= timedelta(days=14)

    me = auth_client.get("/api/v1/me")
    assert me.status_code == 200
    body = me.json()
    assert body["email"] == "ada@example.edu" and body["role"] == "student"
    assert body["csrf_token"] == row.csrf_token
    assert {"slug": "cs329", "name": "ML systems", "role": "student"} in body["courses"]
    assert [t["prefix"] for t in body["tokens"]] == [people.student_token[:11]]
    assert all("token" not in t for t in body["tokens"])

    # The link is used up: opening it again says so, and using it again is refused.
    again = auth_client.get(urlsplit(url).path + "?" + urlsplit(url).query, headers=HTML)
    assert again.status_code == 401 and 'role="alert"' in again.text and "not valid any more" in again.text
    replay = auth_client.post("/auth/link/redeem", json={"token": token})
    assert replay.status_code == 401 and "not valid any more" in replay.json()["detail"]


def test_staff_land_on_the_instructor_page_and_https_cookies_are_secure(db_session: Session, people: People,
                                                                        configure: Callable[..., None]) -> None:
    with TestClient(auth_app(db_session), base_url="https://grader.example.edu", follow_redirects=False) as client:
        for token, landing in ((people.instructor_token, "/instructor"), (people.student_token, "/")):
            response = client.post("/auth/token", json={"token": token})
            assert response.status_code == 303 and response.headers["location"] == landing
            assert "secure" in _cookie_header(response.headers.multi_items()).lower()
        # A TA (student site role, staff of a course) is staff too.
        response = client.post("/auth/token", json={"token": people.ta_token})
        assert response.headers["location"] == "/instructor"
    # Behind a TLS proxy the request is http: the setting makes the cookie Secure anyway.
    configure(session_cookie_secure="true")
    with TestClient(auth_app(db_session), follow_redirects=False) as client:
        response = client.post("/auth/token", data={"token": people.student_token})
        assert "secure" in _cookie_header(response.headers.multi_items()).lower()


def test_the_sign_in_page_offers_both_ways_with_labels(auth_client: TestClient) -> None:
    page = auth_client.get("/sign-in")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert '<label for="email">' in text and 'id="email" name="email" type="email"' in text
    assert '<label for="api-token">' in text and 'id="api-token" name="token" type="password"' in text
    assert "Email me a sign-in link" in text and "Sign in with an API token" in text
    assert 'action="/auth/link"' in text and 'action="/auth/token"' in text
    assert '<meta name="viewport"' in text


def test_a_bad_token_in_the_page_comes_back_as_the_page_with_an_alert(auth_client: TestClient) -> None:
    response = auth_client.post("/auth/token", data={"token": "tt_not-a-real-token"}, headers=HTML)
    assert response.status_code == 401 and "set-cookie" not in response.headers
    assert 'role="alert"' in response.text and "invalid or revoked API token" in response.text
    assert 'aria-invalid="true" aria-describedby="sign-in-error" autofocus' in response.text
    # Scripts get JSON.
    scripted = auth_client.post("/auth/token", json={"token": "tt_not-a-real-token"})
    assert scripted.status_code == 401 and scripted.json() == {"detail": "invalid or revoked API token"}


def test_asking_from_the_page_answers_with_the_page(auth_client: TestClient, people: People) -> None:
    # No SMTP configured: the answer says to ask course staff, the same for anyone.
    response = auth_client.post("/auth/link", data={"email": "ada@example.edu"}, headers=HTML)
    assert response.status_code == 202 and 'role="status"' in response.text
    assert "ask your course staff for a sign-in link" in response.text
    assert auth_client.post("/auth/link", json={"email": "ada@example.edu"}).json() == {
        "detail": "This grader does not send email: ask your course staff for a sign-in link."}


def test_the_configured_public_url_is_the_links_base(auth_client: TestClient, smtp_server: Mailbox,
                                                    people: People, configure: Callable[..., None]) -> None:
    configure(public_url="https://grader.example.edu/")
    assert auth_client.post("/auth/link", json={"email": "ada@example.edu"}).status_code == 202
    assert _link_in(smtp_server, "ada@example.edu").startswith("https://grader.example.edu/sign-in/link?token=")


def test_signing_in_with_a_token_then_out(auth_client: TestClient, people: People, db_session: Session) -> None:
    assert auth_client.post("/auth/token", data={"token": people.student_token}).status_code == 303
    csrf = auth_client.get("/api/v1/me").json()["csrf_token"]
    out = auth_client.post("/auth/sign-out", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    cleared = _cookie_header(out.headers.multi_items()).lower()
    assert cleared.startswith('tt_session=""') and "max-age=0" in cleared
    row = db_session.scalar(select(WebSession).where(WebSession.user_id == people.student.id))
    assert row is not None and row.revoked_at is not None
    assert auth_client.get("/api/v1/me").status_code == 401
