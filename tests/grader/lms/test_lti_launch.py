"""The LTI 1.3 launch against a real platform (lti1p3platform on loopback): the OIDC login, the signed id_token
posted back, the person signed in and enrolled with the platform's role; and every refusal, with its reason."""

from __future__ import annotations

import time
from typing import Any

import httpx
import lti_platform_fixtures
from fastapi.testclient import TestClient
from lti_platform import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, LtiPlatformServer, Person, launch_form
from lti_platform_fixtures import Lti
from sqlalchemy import select

from grader.courses.service import course_role
from grader.db.models import CourseRole, LtiIdentity, LtiLoginState, User, WebSession
from grader.settings import get_settings
from grader.users.service import create_user

# The shared fixtures (tests/grader/lms has no conftest of LTI's own).
lti = lti_platform_fixtures.lti
_fresh_caches = lti_platform_fixtures._fresh_caches


def test_a_learner_launch_signs_in_creates_the_user_and_enrolls_them(lti: Lti) -> None:
    answer = lti.launch()
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "tt_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    user = lti.session.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None and user.name == "Ada"
    assert course_role(lti.session, user, lti.course) == CourseRole.student
    identity = lti.session.scalar(select(LtiIdentity).where(LtiIdentity.user_id == user.id))
    assert identity is not None and identity.sub == "user-1" and identity.platform_id == lti.registration.id
    assert lti.session.scalar(select(WebSession).where(WebSession.user_id == user.id)) is not None


def test_staff_roles_land_on_the_instructor_page(lti: Lti) -> None:
    for sub, roles, role in (("t-1", [TEACHING_ASSISTANT], CourseRole.ta),
                             ("i-1", [INSTRUCTOR], CourseRole.instructor)):
        lti.platform.person = Person(sub, f"{sub}@example.org", roles)
        answer = lti.launch()
        assert answer.status_code == 303 and answer.headers["location"] == f"/instructor?course={lti.course.slug}"
        user = lti.session.scalar(select(User).where(User.email == f"{sub}@example.org"))
        assert user is not None and course_role(lti.session, user, lti.course) == role


def test_a_link_naming_an_assignment_opens_it_for_students_and_staff(lti: Lti) -> None:
    lti.platform.custom = {"assignment": "capstone"}
    answer = lti.launch()
    assert answer.headers["location"] == f"/?assignment={lti.course.slug}%2Fcapstone"
    lti.platform.person = Person("i-1", "i-1@example.org", [INSTRUCTOR])
    answer = lti.launch()
    assert answer.headers["location"] == f"/instructor?course={lti.course.slug}&assignment=capstone"


def test_a_second_launch_finds_the_user_by_sub_even_with_a_new_email(lti: Lti) -> None:
    lti.launch()
    lti.platform.person = Person("user-1", "ada.lovelace@example.org", [LEARNER])
    assert lti.launch().status_code == 303
    assert lti.session.scalar(select(User).where(User.email == "ada.lovelace@example.org")) is None


def test_an_existing_account_is_linked_by_email(lti: Lti) -> None:
    user, _ = create_user(lti.session, "ada@example.org", "student")
    assert lti.launch().status_code == 303
    assert lti.session.scalar(select(LtiIdentity.user_id).where(LtiIdentity.sub == "user-1")) == user.id


def test_a_course_registration_cannot_sign_in_site_staff_by_email(lti: Lti) -> None:
    create_user(lti.session, "ada@example.org", "admin")
    answer = lti.launch()
    assert answer.status_code == 403 and "rights beyond this course" in answer.json()["detail"]


def _https_platform_form(lti: Lti, client: TestClient) -> dict[str, str]:
    answer = client.get("/lti/login", params=lti.platform.login_params())
    assert answer.status_code == 302
    _, fields = launch_form(httpx.get(answer.headers["location"], timeout=10).text)
    return fields


def test_over_https_the_cookies_work_inside_the_lms_iframe(lti: Lti, monkeypatch: Any) -> None:
    monkeypatch.setenv("GRADER_SESSION_COOKIE_SECURE", "true")
    get_settings.cache_clear()
    with TestClient(lti.app, base_url="https://testserver", follow_redirects=False) as browser:
        started = browser.get("/lti/login", params=lti.platform.login_params())
        state_cookie = started.headers["set-cookie"].lower()
        assert "tt_lti_" in state_cookie and "samesite=none" in state_cookie and "secure" in state_cookie
        _, fields = launch_form(httpx.get(started.headers["location"], timeout=10).text)
        answer = browser.post("/lti/launch", data=fields)
        assert answer.status_code == 303, answer.text
        session_cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("tt_session="))
        assert "samesite=none" in session_cookie.lower() and "secure" in session_cookie.lower()


def test_over_https_a_launch_from_a_browser_that_did_not_start_the_login_is_refused(
        lti: Lti, monkeypatch: Any) -> None:
    # Login CSRF: an attacker's own login and id_token, posted from the victim's browser.
    monkeypatch.setenv("GRADER_SESSION_COOKIE_SECURE", "true")
    get_settings.cache_clear()
    with TestClient(lti.app, base_url="https://testserver", follow_redirects=False) as attacker:
        fields = _https_platform_form(lti, attacker)
    with TestClient(lti.app, base_url="https://testserver", follow_redirects=False) as victim:
        _refused(victim.post("/lti/launch", data=fields), 401, "did not start the LTI login")


def test_login_by_post_and_its_redirect_carries_state_and_nonce(lti: Lti) -> None:
    answer = lti.client.post("/lti/login", data=lti.platform.login_params())
    assert answer.status_code == 302
    query = httpx.URL(answer.headers["location"]).params
    assert query["redirect_uri"] == "http://testserver/lti/launch" and query["client_id"] == "grader-tool"
    assert query["response_mode"] == "form_post" and query["scope"] == "openid" and query["prompt"] == "none"
    assert len(query["state"]) >= 40 and len(query["nonce"]) >= 40
    row = lti.session.scalar(select(LtiLoginState).where(LtiLoginState.nonce == query["nonce"]))
    assert row is not None and row.state_hash != query["state"]  # only its hash is kept


def _refused(answer: httpx.Response, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"], answer.json()["detail"]
    assert "set-cookie" not in answer.headers


def test_login_refuses_an_unknown_issuer_client_or_deployment(lti: Lti) -> None:
    for name, value, words in (("iss", "https://evil.example", "unknown LTI platform"),
                               ("client_id", "someone-else", "unknown LTI platform"),
                               ("lti_deployment_id", "deployment-9", "unknown LTI deployment")):
        params = {**lti.platform.login_params(), name: value}
        _refused(lti.client.get("/lti/login", params=params), 400, words)
    params = lti.platform.login_params()
    del params["login_hint"]
    _refused(lti.client.get("/lti/login", params=params), 400, "login_hint")


def test_a_replayed_launch_is_refused(lti: Lti) -> None:
    form = lti.platform_form()
    assert lti.client.post("/lti/launch", data=form).status_code == 303
    _refused(lti.client.post("/lti/launch", data=form), 401, "used already")
    # The same token with a fresh login's state: its nonce is not that login's.
    fresh = lti.platform_form()
    _refused(lti.client.post("/lti/launch", data={**form, "state": fresh["state"]}), 401, "nonce")


def _claims(lti: Lti, nonce: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    lti_claim = "https://purl.imsglobal.org/spec/lti/claim/"
    claims = {"iss": lti.platform.issuer, "aud": "grader-tool", "azp": "grader-tool", "sub": "user-9",
              "nonce": nonce, "email": "eve@example.org", f"{lti_claim}roles": [LEARNER],
              f"{lti_claim}deployment_id": "deployment-1", f"{lti_claim}message_type": "LtiResourceLinkRequest",
              f"{lti_claim}version": "1.3.0"}
    claims.update(changes or {})
    return claims


def _state_and_nonce(lti: Lti) -> tuple[str, str]:
    query = httpx.URL(lti.login().headers["location"]).params
    return query["state"], query["nonce"]


def test_hostile_id_tokens_are_refused_each_with_its_reason(lti: Lti) -> None:
    lti_claim = "https://purl.imsglobal.org/spec/lti/claim/"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"iss": "https://evil.example"}, "unknown issuer"),
        ({"aud": "another-tool", "azp": "another-tool"}, "wrong audience"),
        ({"aud": ["another-tool", "grader-tool"], "azp": "another-tool"}, "azp"),
        ({f"{lti_claim}deployment_id": "deployment-9"}, "unknown deployment"),
        ({f"{lti_claim}message_type": "LtiSubmissionReviewRequest"}, "unsupported LTI message type"),
        ({f"{lti_claim}version": "1.1"}, "unsupported LTI version"),
        ({"nonce": "not-this-logins"}, "nonce"),
        ({"sub": ""}, "names no user"),
    ]
    for changes, words in cases:
        state, nonce = _state_and_nonce(lti)
        token = lti.platform.sign(_claims(lti, nonce, changes))
        _refused(lti.client.post("/lti/launch", data={"id_token": token, "state": state}), 401, words)


def test_an_expired_or_future_token_is_refused(lti: Lti) -> None:
    state, nonce = _state_and_nonce(lti)
    now = int(time.time())
    token = lti.platform.sign(_claims(lti, nonce, {"iat": now - 900, "exp": now - 600}), expiration=None)
    _refused(lti.client.post("/lti/launch", data={"id_token": token, "state": state}), 401, "expired")
    state, nonce = _state_and_nonce(lti)
    token = lti.platform.sign(_claims(lti, nonce, {"iat": now + 900, "exp": now + 1200}), expiration=None)
    _refused(lti.client.post("/lti/launch", data={"id_token": token, "state": state}), 401, "future")


def test_a_token_signed_by_another_key_or_tampered_is_a_bad_signature(lti: Lti) -> None:
    impostor = LtiPlatformServer(tool_base="http://testserver", port=lti.platform.port)
    state, nonce = _state_and_nonce(lti)
    # Same kid header as the real platform's key, signed by another key.
    forged = impostor.sign(_claims(lti, nonce), kid=False)
    header = lti.platform.sign(_claims(lti, nonce)).split(".")[0]
    forged = ".".join([header, *forged.split(".")[1:]])
    _refused(lti.client.post("/lti/launch", data={"id_token": forged, "state": state}), 401, "bad signature")
    state, nonce = _state_and_nonce(lti)
    good = lti.platform.sign(_claims(lti, nonce)).split(".")
    tampered = lti.platform.sign(_claims(lti, nonce, {"sub": "admin"})).split(".")[1]
    _refused(lti.client.post("/lti/launch", data={"id_token": ".".join([good[0], tampered, good[2]]),
                                                  "state": state}), 401, "bad signature")


def test_garbage_launches_are_refused(lti: Lti) -> None:
    state, _ = _state_and_nonce(lti)
    for token in ("", "not-a-jwt", "a.b.c", "x" * 70_000):
        answer = lti.client.post("/lti/launch", data={"id_token": token, "state": state})
        assert answer.status_code == 401, (token[:20], answer.text)
    _refused(lti.client.post("/lti/launch", data={"id_token": "a.b.c", "state": "unknown"}), 401, "state")
    state, nonce = _state_and_nonce(lti)
    unsigned = lti.platform.sign(_claims(lti, nonce)).split(".")
    import base64
    import json

    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    _refused(lti.client.post("/lti/launch", data={"id_token": f"{none_header}.{unsigned[1]}.", "state": state}),
             401, "RS256")


def test_a_platform_key_rotation_is_picked_up_by_refetching_its_jwks(lti: Lti, monkeypatch: Any) -> None:
    from lti_platform import rsa_pem_pair

    from grader.lms.lti import platform_keys

    assert lti.launch().status_code == 303  # the platform's key set is now cached
    private, public = rsa_pem_pair()
    lti.platform.private_pem, lti.platform.public_pem = private, public
    lti.platform.registration.set_platform_private_key(private).set_platform_public_key(public)
    # A kid the cache lacks is fetched again, but not more often than _REFETCH_AFTER (forged kids must not
    # turn into a flood of requests to the LMS): within it, the stale set refuses the new key.
    assert lti.launch().status_code == 401
    monkeypatch.setattr(platform_keys, "_REFETCH_AFTER", 0.0)
    assert lti.launch().status_code == 303


def test_a_whole_install_registration_links_an_lms_course_only_through_an_instructor_here(lti: Lti) -> None:
    from grader.courses.service import create_course, enroll

    lti.registration.course_id = None
    other = create_course(lti.session, "cs101", "Intro")
    lti.session.flush()
    lti.platform.custom = {"course": "cs329"}
    _refused(lti.launch(), 403, "not linked to our course 'cs329' yet")  # a student first: no link yet
    lti.platform.person = Person("i-9", "stranger@example.org", [INSTRUCTOR])
    _refused(lti.launch(), 403, "instructors here must launch")  # an LMS instructor who is nobody here
    prof, _ = create_user(lti.session, "prof@example.org", "instructor")
    enroll(lti.session, prof, lti.course, "instructor")
    lti.platform.person = Person("i-1", "prof@example.org", [INSTRUCTOR])
    assert lti.launch().status_code == 303  # links the LMS course to cs329
    lti.platform.person = Person("user-1", "ada@example.org", [LEARNER])
    assert lti.launch().status_code == 303
    ada = lti.session.scalar(select(User).where(User.email == "ada@example.org"))
    assert ada is not None and course_role(lti.session, ada, lti.course) == CourseRole.student
    # Renaming the link's custom course cannot move the LMS course into another course here.
    lti.platform.custom = {"course": "cs101"}
    _refused(lti.launch(), 403, "linked to our course 'cs329', not 'cs101'")
    assert course_role(lti.session, ada, other) is None
    lti.platform.custom = {}
    assert lti.launch().status_code == 303  # once linked, the parameter is not needed
