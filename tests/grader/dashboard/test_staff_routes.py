"""The dashboard's new routes over HTTP, as a TA, an outsider and a student would call them: overrides (hostile
bodies refused naming the field), a student's submissions, the modules chart, the status and the CSV's declared
content type."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from conftest import Campus

BASE = "/api/v1/instructor"


def put_override(client: TestClient, campus: Campus, who: str, sid: str, raw: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.put(f"{BASE}/submissions/{sid}/override", content=raw,
                          headers={**campus.headers(who), "content-type": "application/json"})
    return response.status_code, response.json()


def test_a_ta_overrides_and_the_table_shows_both_scores(client: TestClient, campus: Campus) -> None:
    sid = str(campus.submit(campus.ada, campus.hw1, 4.0).id)
    status, report = put_override(client, campus, "ta", sid, json.dumps({"score": 8, "comment": "see the forum"}))
    assert status == 200
    assert report["override"]["score"] == 8 and report["override"]["by"] == "tess@example.edu"
    assert (report["score"], report["counted_score"]) == (4, 8)
    grades = client.get(f"{BASE}/courses/cs1/grades", headers=campus.headers("ta")).json()
    ada = next(r for r in grades["rows"] if r["email"] == "ada@example.edu")["grades"]["hw1"]
    assert (ada["score"], ada["raw_score"], ada["override_score"]) == (8, 4, 8)
    assert ada["override_comment"] == "see the forum"
    assert {"failed_tests", "failed_modules", "late", "submissions"} <= set(ada)
    cleared = client.delete(f"{BASE}/submissions/{sid}/override", headers=campus.headers("teacher"))
    assert cleared.status_code == 200 and cleared.json()["override"] is None


@pytest.mark.parametrize(("raw", "status", "named"), [
    ('{"score": NaN, "comment": "x"}', 400, "score"),
    ('{"score": Infinity, "comment": "x"}', 400, "score"),
    ('{"score": -1, "comment": "x"}', 400, "score"),
    ('{"score": 10.5, "comment": "x"}', 400, "score"),
    ('{"score": 1e400, "comment": "x"}', 400, "score"),
    (json.dumps({"score": 5, "comment": "y" * 2001}), 400, "comment"),
    (json.dumps({"score": 5, "comment": "   "}), 400, "comment"),
    (json.dumps({"score": 5, "comment": "nul\u0000"}), 400, "comment"),
    (json.dumps({"score": "5", "comment": "x"}), 422, "score"),
    (json.dumps({"score": True, "comment": "x"}), 422, "score"),
    (json.dumps({"score": 5}), 422, "comment"),
    (json.dumps({"score": 5, "comment": ["x"]}), 422, "comment"),
    ("not json", 422, ""),
])
def test_a_bad_override_body_is_refused_naming_the_field(client: TestClient, campus: Campus, raw: str, status: int,
                                                         named: str) -> None:
    sid = str(campus.submit(campus.ada, campus.hw1, 4.0).id)
    got, body = put_override(client, campus, "teacher", sid, raw)
    assert got == status and named in body["detail"]
    shown = client.get(f"{BASE}/submissions/{sid}", headers=campus.headers("teacher")).json()
    assert shown["override"] is None


def test_overrides_are_refused_to_students_and_outsiders(client: TestClient, campus: Campus) -> None:
    sid = str(campus.submit(campus.ada, campus.hw1, 4.0).id)
    body = json.dumps({"score": 10, "comment": "mine now"})
    assert put_override(client, campus, "ada", sid, body)[0] == 403
    assert put_override(client, campus, "other_ta", sid, body)[0] == 404
    assert client.put(f"{BASE}/submissions/{sid}/override", content=body).status_code == 401
    assert client.delete(f"{BASE}/submissions/{sid}/override", headers=campus.headers("other_ta")).status_code == 404


NEW_PATHS = [
    ("get", "/courses/cs1/grades"),
    ("get", "/courses/cs1/grades.csv"),
    ("get", "/courses/cs1/students/{ada}/submissions"),
    ("get", "/courses/cs1/assignments/hw1/modules"),
    ("get", "/submissions/{sid}"),
    ("delete", "/submissions/{sid}/override"),
]


@pytest.mark.parametrize(("method", "path"), NEW_PATHS)
def test_a_ta_of_another_course_gets_404_and_a_student_403(client: TestClient, campus: Campus, method: str,
                                                           path: str) -> None:
    sid = campus.submit(campus.ada, campus.hw1, 4.0).id
    url = BASE + path.format(ada=campus.ada.id, sid=sid)
    call = getattr(client, method)
    assert call(url).status_code == 401
    assert call(url, headers=campus.headers("ada")).status_code == 403
    outsider = call(url, headers=campus.headers("other_ta"))
    assert outsider.status_code == 404 and outsider.json()["detail"]
    assert call(url, headers=campus.headers("ta")).status_code == 200


def test_a_students_submissions(client: TestClient, campus: Campus) -> None:
    campus.submit(campus.ada, campus.hw1, 4.0)
    listed = client.get(f"{BASE}/courses/cs1/students/{campus.ada.id}/submissions", headers=campus.headers("ta"))
    assert listed.status_code == 200 and listed.json()["user"]["email"] == "ada@example.edu"
    for hostile in ("abc", "99999999999999999999999", "-1", "%00", str(campus.carl.id)):
        got = client.get(f"{BASE}/courses/cs1/students/{hostile}/submissions", headers=campus.headers("ta"))
        assert got.status_code == 404, hostile


def test_the_modules_chart_and_the_status(client: TestClient, campus: Campus) -> None:
    empty = client.get(f"{BASE}/courses/cs1/assignments/hw1/modules", headers=campus.headers("ta"))
    assert empty.status_code == 200 and empty.json() == {"assignment": "hw1", "students": 0, "modules": [],
                                                         "priorities": []}
    shown = client.get(f"{BASE}/status", headers=campus.headers("ta"))
    assert shown.status_code == 200
    assert set(shown.json()) == {"stuck_gradings", "oldest_queued_s", "grading", "detail"}
    assert shown.json()["grading"] in {"ok", "paused", "delayed"}
    assert client.get(f"{BASE}/status", headers=campus.headers("ada")).status_code == 403
    assert client.get(f"{BASE}/status").status_code == 401


def test_the_csv_is_declared_and_served_as_text_csv(client: TestClient, campus: Campus) -> None:
    campus.ada.name = "=cmd|' /C calc'!A0"
    campus.session.flush()
    response = client.get(f"{BASE}/courses/cs1/grades.csv", headers=campus.headers("ta"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert ",'=cmd|' /C calc'!A0," in response.text
    content = client.app.openapi()["paths"][f"{BASE}/courses/{{slug}}/grades.csv"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/csv"]
