"""Registering platforms (CLI and API), the tool's keys at /lti/jwks and their rotation, and the config page."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import lti_platform_fixtures
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from lti_platform_fixtures import Lti
from sqlalchemy.orm import Session

from grader.api import deps
from grader.api.error_responses import install_error_handlers
from grader.courses.service import enroll
from grader.db.models import LtiKey
from grader.lms.lti.keys import public_jwks, rotate_key, signing_key
from grader.lms.lti.routes import router as lti_router
from grader.users.service import create_user

lti = lti_platform_fixtures.lti
_fresh_caches = lti_platform_fixtures._fresh_caches

FIELDS = ["--issuer", "https://lms.example.edu", "--client-id", "10000000000042", "--deployment-id", "1:abc",
          "--deployment-id", "2:def", "--jwks-url", "https://lms.example.edu/api/lti/security/jwks",
          "--auth-url", "https://lms.example.edu/api/lti/authorize_redirect",
          "--token-url", "https://lms.example.edu/login/oauth2/token"]


def test_cli_adds_and_lists_platforms_for_the_install_and_for_a_course(grader: Callable[..., Any]) -> None:
    added = grader("lti", "add-platform", *FIELDS)
    assert added.exit_code == 0, added.output
    assert "for the whole install" in added.output
    assert grader("courses", "add", "cs329", "--name", "ML systems").exit_code == 0
    other = [*FIELDS]
    other[3] = "99"
    assert grader("lti", "add-platform", *other, "--course", "cs329").exit_code == 0
    listed = json.loads(grader("lti", "list", "--json").output)["platforms"]
    assert [(p["client_id"], p["course"], p["deployment_ids"]) for p in listed] == [
        ("10000000000042", None, ["1:abc", "2:def"]), ("99", "cs329", ["1:abc", "2:def"])]
    assert "(whole install)" in grader("lti", "list").output


def test_cli_refuses_a_duplicate_a_bad_url_and_an_unknown_course(grader: Callable[..., Any]) -> None:
    assert grader("lti", "add-platform", *FIELDS).exit_code == 0
    again = grader("lti", "add-platform", *FIELDS)
    assert again.exit_code == 2 and "registered already" in again.output
    bad = [*FIELDS]
    bad[bad.index("--jwks-url") + 1] = "javascript:alert(1)"
    bad[3] = "7"
    refused = grader("lti", "add-platform", *bad)
    assert refused.exit_code == 2 and "JWKS URL" in refused.output
    nowhere = grader("lti", "add-platform", *FIELDS[:2], "--client-id", "8", *FIELDS[4:], "--course", "nope")
    assert nowhere.exit_code == 2 and "no course" in nowhere.output


def test_rotate_key_serves_the_new_key_beside_the_old(grader: Callable[..., Any]) -> None:
    first = grader("lti", "rotate-key")
    second = grader("lti", "rotate-key")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "stays published" in second.output


def test_jwks_serves_public_keys_only_with_kids_and_rotation_keeps_the_old_one(db_session: Session) -> None:
    first = public_jwks(db_session)["keys"]
    assert len(first) == 1 and first[0]["kid"] and first[0]["alg"] == "RS256" and first[0]["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(first[0])  # no private parameter
    old_kid = first[0]["kid"]
    new = rotate_key(db_session)
    kids = [k["kid"] for k in public_jwks(db_session)["keys"]]
    assert kids == [old_kid, new.kid]
    assert signing_key(db_session)[0] == new.kid
    rotate_key(db_session)
    assert old_kid not in [k["kid"] for k in public_jwks(db_session)["keys"]]  # two live keys at most
    assert RSAKey.import_key(public_jwks(db_session)["keys"][0]).is_private is False


def test_the_jwks_and_config_routes(lti: Lti, monkeypatch: pytest.MonkeyPatch) -> None:
    body = lti.client.get("/lti/jwks").json()
    assert body["keys"] and all("d" not in k for k in body["keys"])
    config = lti.client.get("/lti/config").json()
    assert config["login_url"] == "http://testserver/lti/login"
    assert config["redirect_uris"] == ["http://testserver/lti/launch"]
    assert config["jwks_url"] == "http://testserver/lti/jwks"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]
    monkeypatch.setenv("GRADER_PUBLIC_URL", "https://grader.example.edu")
    from grader.settings import get_settings

    get_settings.cache_clear()
    assert lti.client.get("/lti/config").json()["launch_url"] == "https://grader.example.edu/lti/launch"
    assert lti.session.query(LtiKey).count() >= 1


@pytest.fixture
def api(db_session: Session) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(lti_router)
    app.dependency_overrides[deps.db_session] = lambda: db_session
    return TestClient(app)


def _platform(client_id: str) -> dict[str, Any]:
    return {"issuer": "https://lms.example.edu", "client_id": client_id, "deployment_ids": ["1:abc"],
            "jwks_url": "https://lms.example.edu/jwks", "auth_url": "https://lms.example.edu/auth",
            "token_url": "https://lms.example.edu/token"}


def test_the_registration_api_for_admins_and_course_instructors(api: TestClient, db_session: Session) -> None:
    from grader.courses.service import create_course

    course = create_course(db_session, "cs329", "ML systems")
    _, admin_token = create_user(db_session, "root@example.edu", "admin")
    prof, prof_token = create_user(db_session, "prof@example.edu", "instructor")
    enroll(db_session, prof, course, "instructor")
    ta, ta_token = create_user(db_session, "ta@example.edu", "student")
    enroll(db_session, ta, course, "ta")

    def as_(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    made = api.post("/api/v1/admin/lti/platforms", json=_platform("1"), headers=as_(admin_token))
    assert made.status_code == 201 and made.json()["course"] is None
    assert api.post("/api/v1/admin/lti/platforms", json=_platform("2"), headers=as_(prof_token)).status_code == 403
    mine = api.post("/api/v1/instructor/courses/cs329/lti/platforms", json=_platform("3"), headers=as_(prof_token))
    assert mine.status_code == 201 and mine.json()["course"] == "cs329"
    assert api.post("/api/v1/instructor/courses/cs329/lti/platforms", json=_platform("4"),
                    headers=as_(ta_token)).status_code == 403
    listed = api.get("/api/v1/instructor/courses/cs329/lti/platforms", headers=as_(prof_token)).json()
    assert [p["client_id"] for p in listed["platforms"]] == ["3"]
    # A TA reads the course's registrations (the dashboard's LMS panel), a student may not.
    as_ta = api.get("/api/v1/instructor/courses/cs329/lti/platforms", headers=as_(ta_token))
    assert as_ta.status_code == 200 and [p["client_id"] for p in as_ta.json()["platforms"]] == ["3"]
    kid, student_token = create_user(db_session, "kid@example.edu", "student")
    enroll(db_session, kid, course, "student")
    assert api.get("/api/v1/instructor/courses/cs329/lti/platforms", headers=as_(student_token)).status_code == 403
    everything = api.get("/api/v1/admin/lti/platforms", headers=as_(admin_token)).json()["platforms"]
    assert [p["client_id"] for p in everything] == ["1", "3"]
    duplicate = api.post("/api/v1/admin/lti/platforms", json=_platform("1"), headers=as_(admin_token))
    assert duplicate.status_code == 409
    hostile = {**_platform("5"), "auth_url": "file:///etc/passwd"}
    assert api.post("/api/v1/admin/lti/platforms", json=hostile, headers=as_(admin_token)).status_code == 400
    empty = {**_platform("6"), "deployment_ids": []}
    assert api.post("/api/v1/admin/lti/platforms", json=empty, headers=as_(admin_token)).status_code in (400, 422)
    assert api.get("/api/v1/admin/lti/platforms").status_code == 401


def test_cli_send_scores_with_nothing_to_send(grader: Callable[..., Any]) -> None:
    answer = grader("lti", "send-scores")
    assert answer.exit_code == 0, answer.output
    assert "queued 0 unsent scores" in answer.output
