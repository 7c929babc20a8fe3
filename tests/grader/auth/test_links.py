"""One-time sign-in links: once, for 30 minutes, the newest few only, one winner of two concurrent redeems; asking
says nothing about who has an account, is rate-limited, and hostile input is refused without harm."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from conftest import Mailbox, People
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.auth import links
from grader.db.base import utcnow
from grader.db.models import SignInLink, User
from grader.db.session import get_sessionmaker
from grader.errors import TooManyRequests, Unauthorized
from grader.users.service import create_user


def test_a_link_works_once(db_session: Session, people: People) -> None:
    _, token = links.issue_link(db_session, people.student)
    assert links.link_user(db_session, token)[0].id == people.student.id  # looking does not use it
    assert links.redeem_link(db_session, token).id == people.student.id
    with pytest.raises(Unauthorized):
        links.redeem_link(db_session, token)
    with pytest.raises(Unauthorized):
        links.link_user(db_session, token)


def test_a_link_expires_after_30_minutes(db_session: Session, people: People) -> None:
    issued = utcnow()
    _, token = links.issue_link(db_session, people.student, now=issued)
    with pytest.raises(Unauthorized):
        links.link_user(db_session, token, now=issued + timedelta(minutes=30))
    with pytest.raises(Unauthorized):
        links.redeem_link(db_session, token, now=issued + timedelta(minutes=30, seconds=1))
    assert links.redeem_link(db_session, token, now=issued + timedelta(minutes=29)).id == people.student.id


def test_an_expired_link_is_refused_over_http(auth_client: TestClient, db_session: Session, people: People) -> None:
    _, token = links.issue_link(db_session, people.student, now=utcnow() - timedelta(minutes=31))
    assert auth_client.get(f"/sign-in/link?token={token}").status_code == 401
    response = auth_client.post("/auth/link/redeem", json={"token": token})
    assert response.status_code == 401 and "set-cookie" not in response.headers


def test_only_the_newest_three_links_of_a_user_stay_valid(db_session: Session, people: People) -> None:
    start = utcnow()
    tokens = [links.issue_link(db_session, people.student, now=start + timedelta(seconds=i))[1] for i in range(4)]
    with pytest.raises(Unauthorized):
        links.redeem_link(db_session, tokens[0])
    for token in tokens[1:]:
        assert links.redeem_link(db_session, token).id == people.student.id
    # Another user's links are untouched by this user's.
    _, other = links.issue_link(db_session, people.classmate)
    for _ in range(3):
        links.issue_link(db_session, people.student)
    assert links.redeem_link(db_session, other).id == people.classmate.id


def test_two_concurrent_redeems_one_wins(database_url: str) -> None:
    sessions = get_sessionmaker(database_url, write=True)
    with sessions() as session, session.begin():
        user, _ = create_user(session, f"race-{utcnow().timestamp()}@example.edu", "student")
        user_id = user.id
        _, token = links.issue_link(session, user)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def redeem() -> None:
        start.wait()
        try:
            with sessions() as session, session.begin():
                links.redeem_link(session, token)
            outcomes.append("signed in")
        except Unauthorized:
            outcomes.append("refused")

    try:
        threads = [threading.Thread(target=redeem) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(outcomes) == ["refused", "signed in"]
    finally:
        with sessions() as session, session.begin():
            session.delete(session.get(User, user_id))


def test_asking_says_nothing_about_who_has_an_account(auth_client: TestClient, smtp_server: Mailbox,
                                                      people: People, db_session: Session) -> None:
    known = auth_client.post("/auth/link", json={"email": "ada@example.edu"})
    unknown = auth_client.post("/auth/link", json={"email": "nobody@example.edu"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())
    ignored = {"date"}
    assert ({k: v for k, v in known.headers.items() if k not in ignored}
            == {k: v for k, v in unknown.headers.items() if k not in ignored})
    assert smtp_server.arrived.wait(10)
    assert [to for to, _ in smtp_server.received] == [["ada@example.edu"]]
    assert db_session.scalar(select(SignInLink.user_id)) == people.student.id
    # The sign-in page's form answers both the same way too.
    page = {"accept": "text/html"}
    assert (auth_client.post("/auth/link", data={"email": "ada@example.edu"}, headers=page).text
            == auth_client.post("/auth/link", data={"email": "nobody@example.edu"}, headers=page).text)


def test_asking_is_rate_limited_per_address_and_per_client(auth_client: TestClient, people: People,
                                                           configure: Callable[..., None]) -> None:
    for address in ("ada@example.edu", "nobody@example.edu"):  # known or not, the same limit
        for _ in range(5):
            assert auth_client.post("/auth/link", json={"email": address}).status_code == 202
        refused = auth_client.post("/auth/link", json={"email": address.upper()})
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 15 * 60
        assert "too many sign-in links" in refused.json()["detail"]
    # This client has asked 10 times; 20 more addresses, then it is refused whatever the address.
    for i in range(20):
        assert auth_client.post("/auth/link", json={"email": f"s{i}@example.edu"}).status_code == 202
    assert auth_client.post("/auth/link", json={"email": "fresh@example.edu"}).status_code == 429


def test_the_limit_forgets_after_its_window(db_session: Session, people: People) -> None:
    start = utcnow()
    for i in range(5):
        links.request_link(db_session, "ada@example.edu", "c1", now=start + timedelta(seconds=i))
    with pytest.raises(TooManyRequests) as refused:
        links.request_link(db_session, "ada@example.edu", "c2", now=start + timedelta(minutes=1))
    assert 800 < refused.value.retry_after <= 15 * 60
    later = start + timedelta(minutes=15, seconds=1)
    user, _, token = links.request_link(db_session, "ada@example.edu", "c2", now=later)
    assert user is not None and token is not None


def test_hostile_input_is_refused_without_harm(auth_client: TestClient, smtp_server: Mailbox,
                                               people: People, db_session: Session) -> None:
    huge = "a" * 10_000 + "@example.edu"
    response = auth_client.post("/auth/link", json={"email": huge})
    assert response.status_code == 400 and len(response.text) < 300 and "a" * 300 not in response.text
    assert auth_client.post("/auth/link", json={"email": "a" * 100_000 + "@x.y"}).status_code == 413
    for injected in ("ada@example.edu\r\nBcc: eve@example.edu", "ada@example.edu\nBcc: x", "ada@example.edu,eve@x.y",
                     "<ada@example.edu>", "ada@example.edu\x00"):
        response = auth_client.post("/auth/link", json={"email": injected})
        assert response.status_code == 400 and "not a valid email address" in response.json()["detail"], injected
    assert auth_client.post("/auth/link", content=b"{not json", headers={"content-type": "application/json"}
                            ).status_code == 422
    assert auth_client.post("/auth/link", json=["ada@example.edu"]).status_code == 422
    assert auth_client.post("/auth/link", json={"email": 5}).status_code == 422
    assert auth_client.post("/auth/link", json={}).status_code == 422
    assert auth_client.post("/auth/link", content=b"email=a", headers={"content-type": "text/plain"}).status_code == 400
    assert not smtp_server.arrived.wait(0.5) and db_session.scalar(select(SignInLink.id)) is None

    long_token = "A" * 10_240
    assert auth_client.post("/auth/link/redeem", json={"token": long_token}).status_code == 401
    assert auth_client.post("/auth/link/redeem", data={"token": long_token}).status_code == 401
    assert auth_client.post("/auth/token", json={"token": "tt_" + long_token}).status_code == 401
    assert auth_client.get(f"/sign-in/link?token={long_token}").status_code == 401
    for odd in ("", "../../etc/passwd", "' OR 1=1 --", "\u00e9" * 40):
        assert auth_client.post("/auth/link/redeem", json={"token": odd}).status_code == 401
    echoed = auth_client.post("/auth/link", data={"email": '"><script>alert(1)</script> @x.y'},
                              headers={"accept": "text/html"})
    assert echoed.status_code == 400 and "<script>alert" not in echoed.text and "&lt;script&gt;" in echoed.text
    page = auth_client.get("/sign-in/link", params={"token": "<script>alert(1)</script>"})
    assert page.status_code == 401 and "<script>alert" not in page.text
