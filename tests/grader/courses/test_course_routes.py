"""The course routes through a real FastAPI app on the test's database session: the contract's shapes, and who
may do what (a student 403, a TA 403 on changes, another course 404, typos 422 naming the field)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from grader.api import deps
from grader.api.error_responses import install_error_handlers
from grader.courses.roster import add_member
from grader.courses.routes import router
from grader.courses.service import create_course
from grader.users.service import create_user, issue_token


@dataclass
class Tokens:
    prof: str
    ta: str
    ada: str
    other_prof: str


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(db_session: Session) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[deps.db_session] = lambda: db_session
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def tokens(db_session: Session) -> Tokens:
    prof, prof_token = create_user(db_session, "prof@uni.edu", "instructor")
    _, other_token = create_user(db_session, "other@uni.edu", "instructor")
    course = create_course(db_session, "ml101", "ML Systems 101")
    add_member(db_session, course, prof.email, role="instructor")
    ta = add_member(db_session, course, "ta@uni.edu", role="ta")[0].user
    ada = add_member(db_session, course, "ada@uni.edu", name="Ada Lovelace")[0].user
    return Tokens(prof_token, issue_token(db_session, ta)[1], issue_token(db_session, ada)[1], other_token)


def test_instructor_sets_up_a_course_and_the_student_sees_it(client: TestClient, tokens: Tokens) -> None:
    prof = _headers(tokens.prof)
    made = client.post("/api/v1/instructor/courses", json={"slug": "ml102", "name": "Next term"}, headers=prof)
    assert made.status_code == 201 and made.json() == {"slug": "ml102", "name": "Next term", "role": "instructor",
                                                       "archived": False, "assignments": []}
    assert client.post("/api/v1/instructor/courses", json={"slug": "ml102", "name": "Again"},
                       headers=prof).status_code == 409
    body = {"slug": "final", "title": "Final capstone", "suites": ["capstone"], "due_at": "2027-01-15T23:59:00",
            "due_time_zone": "Europe/Zurich", "late_policy": {"penalty_per_day": 0.1}, "points": {"P3": 20},
            "rubric_visibility": {"capstone::test_x": "hidden"}, "max_submissions_per_hour": 5}
    created = client.post("/api/v1/instructor/courses/ml101/assignments", json=body, headers=prof)
    assert created.status_code == 201, created.text
    assert created.json()["due_at"] == "2027-01-15T23:59:00+01:00"
    assert created.json()["due_time_zone"] == "Europe/Zurich"
    listed = client.get("/api/v1/instructor/courses/ml101/assignments", headers=prof).json()
    assert [a["slug"] for a in listed] == ["final"]
    mine = client.get("/api/v1/assignments", headers=_headers(tokens.ada)).json()["assignments"]
    assert mine == [{
        "course": "ml101", "course_name": "ML Systems 101", "slug": "final", "title": "Final capstone",
        "suites": ["capstone"], "opens_at": None, "due_at": "2027-01-15T23:59:00+01:00",
        "due_time_zone": "Europe/Zurich", "your_due_at": None,
        "late_policy": {"penalty_per_day": 0.1, "max_late_days": None}, "score_policy": "best",
        "max_submissions_per_hour": 5, "submissions": 0, "counting": None}]
    # Staff see the assignments of the courses they teach, too.
    assert [a["slug"] for a in client.get("/api/v1/assignments", headers=_headers(tokens.ta)).json()
            ["assignments"]] == ["final"]
    edited = client.patch("/api/v1/instructor/courses/ml101/assignments/final",
                          json={"due_at": "2027-01-20T12:00:00+01:00", "archived": True}, headers=prof)
    assert edited.status_code == 200 and edited.json()["archived"] and edited.json()["due_at"].startswith("2027-01-20")
    assert client.get("/api/v1/assignments", headers=_headers(tokens.ada)).json() == {"assignments": []}
    renamed = client.patch("/api/v1/instructor/courses/ml101", json={"name": "ML 101", "archived": True}, headers=prof)
    assert renamed.json()["name"] == "ML 101" and renamed.json()["archived"]


def test_roster_and_extensions(client: TestClient, tokens: Tokens) -> None:
    prof = _headers(tokens.prof)
    client.post("/api/v1/instructor/courses/ml101/assignments", json={"slug": "final", "title": "F",
                "due_at": "2027-01-15T23:59:00+01:00"}, headers=prof)
    added = client.post("/api/v1/instructor/courses/ml101/roster",
                        json={"email": "Grace@Uni.edu", "name": "Grace Hopper", "section": "S2"}, headers=prof)
    assert added.status_code == 201 and added.json()["email"] == "grace@uni.edu"
    grace_id = added.json()["user_id"]
    csv = b"Student,ID,SIS User ID,SIS Login ID,Section\n\"Turing, Alan\",1,t1,alan@uni.edu,S1\n\"X, Y\",2,,xy,S1\n"
    imported = client.post("/api/v1/instructor/courses/ml101/roster/import", headers=prof,
                           files={"file": ("roster.csv", csv, "text/csv")}, data={"format": "canvas"})
    assert imported.status_code == 200, imported.text
    assert imported.json()["added"] == 1 and imported.json()["skipped"][0]["line"] == 3
    dropped = client.patch(f"/api/v1/instructor/courses/ml101/roster/{grace_id}", json={"dropped": True},
                           headers=prof)
    assert dropped.json()["dropped"] is True
    members = client.get("/api/v1/instructor/courses/ml101/roster", headers=prof).json()["members"]
    assert {m["email"] for m in members} == {"prof@uni.edu", "ta@uni.edu", "ada@uni.edu", "grace@uni.edu",
                                             "alan@uni.edu"}
    ada_id = next(m["user_id"] for m in members if m["email"] == "ada@uni.edu")
    url = f"/api/v1/instructor/courses/ml101/assignments/final/extensions/{ada_id}"
    granted = client.put(url, json={"due_at": "2027-01-20T23:59:00+01:00", "reason": "ill"}, headers=prof)
    assert granted.status_code == 200 and granted.json()["due_at"] == "2027-01-20T23:59:00+01:00"
    assert client.get("/api/v1/assignments", headers=_headers(tokens.ada)).json()["assignments"][0][
        "your_due_at"] == "2027-01-20T23:59:00+01:00"
    assert client.get("/api/v1/instructor/courses/ml101/assignments/final/extensions", headers=prof).json() == [
        {"user_id": ada_id, "email": "ada@uni.edu", "due_at": "2027-01-20T23:59:00+01:00", "reason": "ill"}]
    assert client.delete(url, headers=prof).status_code == 204
    assert client.delete(url, headers=prof).status_code == 404


def test_who_may_do_what(client: TestClient, tokens: Tokens) -> None:
    base = "/api/v1/instructor/courses/ml101"
    changes = [("patch", base, {"name": "x"}), ("post", base + "/assignments", {"slug": "a", "title": "A"}),
               ("post", base + "/roster", {"email": "new@uni.edu"}),
               ("put", base + "/assignments/capstone/extensions/1", {"due_at": "2027-01-01T00:00:00Z"})]
    for token, status in ((tokens.ta, 403), (tokens.ada, 403), (tokens.other_prof, 404)):
        for method, url, body in changes:
            response = client.request(method, url, json=body, headers=_headers(token))
            assert response.status_code == status, (token, url, response.text)
    # A TA reads the roster and the assignments; a student does not.
    assert client.get(base + "/roster", headers=_headers(tokens.ta)).status_code == 200
    assert client.get(base + "/roster", headers=_headers(tokens.ada)).status_code == 403
    assert client.get(base + "/roster", headers=_headers(tokens.other_prof)).status_code == 404
    assert client.get(base + "/roster").status_code == 401
    assert client.post("/api/v1/instructor/courses", json={"slug": "mine", "name": "Mine"},
                       headers=_headers(tokens.ada)).status_code == 403
    assert client.get("/api/v1/instructor/courses/nope/roster", headers=_headers(tokens.prof)).status_code == 404


def test_bad_bodies_are_refused_naming_the_field(client: TestClient, tokens: Tokens) -> None:
    prof = _headers(tokens.prof)
    base = "/api/v1/instructor/courses/ml101/assignments"
    typo = client.post(base, json={"slug": "a", "title": "A", "due": "2027-01-01T00:00:00Z"}, headers=prof)
    assert typo.status_code == 422 and "due" in typo.json()["detail"]
    naive = client.post(base, json={"slug": "a", "title": "A", "due_at": "2027-01-01T00:00"}, headers=prof)
    assert naive.status_code == 400 and "no time zone" in naive.json()["detail"]
    zone = client.post(base, json={"slug": "a", "title": "A", "due_at": "2027-01-01T00:00",
                                   "due_time_zone": "Moon/Base"}, headers=prof)
    assert zone.status_code == 400 and "Moon/Base" in zone.json()["detail"]
    slug = client.post(base, json={"slug": "../x", "title": "A"}, headers=prof)
    assert slug.status_code == 400 and "slug" in slug.json()["detail"]
    assert client.post("/api/v1/instructor/courses/ml101/roster", json={"email": "nope"},
                       headers=prof).status_code == 400
    role = client.post("/api/v1/instructor/courses/ml101/roster", json={"email": "a@uni.edu", "role": "admin"},
                       headers=prof)
    assert role.status_code == 422 and "role" in role.json()["detail"]
    big = b"a@uni.edu\n" * (600 * 1024)
    too_big = client.post("/api/v1/instructor/courses/ml101/roster/import", headers=prof,
                          files={"file": ("r.csv", big, "text/csv")}, data={"format": "plain"})
    assert too_big.status_code == 413 and "5 MB" in too_big.json()["detail"]
    unknown = client.post("/api/v1/instructor/courses/ml101/roster/import", headers=prof,
                          files={"file": ("r.csv", b"a@uni.edu\n", "text/csv")}, data={"format": "excel"})
    assert unknown.status_code == 400 and "excel" in unknown.json()["detail"]


def test_an_instructor_cannot_drop_or_demote_themselves(client: TestClient, tokens: Tokens) -> None:
    prof = _headers(tokens.prof)
    members = client.get("/api/v1/instructor/courses/ml101/roster", headers=prof).json()["members"]
    me = next(m["user_id"] for m in members if m["email"] == "prof@uni.edu")
    for body in ({"dropped": True}, {"role": "ta"}):
        refused = client.patch(f"/api/v1/instructor/courses/ml101/roster/{me}", json=body, headers=prof)
        assert refused.status_code == 400 and "yourself" in refused.json()["detail"]
    assert client.patch(f"/api/v1/instructor/courses/ml101/roster/{me}", json={"section": "Staff"},
                        headers=prof).json()["section"] == "Staff"


@pytest.mark.parametrize(("field", "value", "status"), [
    ("points", {"P3": True}, 400), ("points", {"P3": "20"}, 400), ("points", {"P3": -5}, 400),
    ("max_submissions_per_hour", True, 422), ("max_submissions_per_hour", "5", 422),
    ("max_submissions_per_hour", 0, 400), ("suites", None, 400), ("late_policy", {"penalty_per_day": 2}, 400),
    ("score_policy", "worst", 422), ("edition", "1999", 400), ("due_time_zone", "+99:00", 400),
])
def test_assignment_edits_name_what_is_wrong(client: TestClient, tokens: Tokens, field: str, value: object,
                                             status: int) -> None:
    prof = _headers(tokens.prof)
    client.post("/api/v1/instructor/courses/ml101/assignments", json={"slug": "final", "title": "F"}, headers=prof)
    response = client.patch("/api/v1/instructor/courses/ml101/assignments/final", json={field: value}, headers=prof)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert field.split("_")[0] in detail or field in detail, detail
