"""Deep Linking: an instructor's LtiDeepLinkingRequest launch shows the course's assignments; the choice goes back
to the platform as a signed LtiDeepLinkingResponse that lti1p3platform verifies against the tool's JWKS, with
our custom parameters and a line item carrying the assignment's maximum."""

from __future__ import annotations

import re

import httpx
import lti_platform_fixtures
from joserfc import jwt
from joserfc.jwk import KeySet
from lti_platform import INSTRUCTOR, LEARNER, Person
from lti_platform_fixtures import Lti

from grader.db.models import Submission
from grader.users.service import create_user

lti = lti_platform_fixtures.lti
_fresh_caches = lti_platform_fixtures._fresh_caches


def _picker(lti: Lti) -> httpx.Response:
    lti.platform.deep_linking = True
    lti.platform.person = Person("prof-1", "prof@example.org", [INSTRUCTOR])
    return lti.launch()


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, page
    return found.group(1)


def test_an_instructor_picks_an_assignment_and_the_platform_gets_the_link(lti: Lti) -> None:
    user, _ = create_user(lti.session, "someone@example.org", "student")
    lti.session.add(Submission(assignment_id=lti.assignment.id, user_id=user.id, archive_sha256="0" * 64,
                               status="graded", score=10.0, max_score=40.0))
    lti.session.flush()
    page = _picker(lti)
    assert page.status_code == 200, page.text
    assert 'value="capstone"' in page.text and "tt_session=" in page.headers["set-cookie"]
    chosen = lti.client.post("/lti/deep-link", data={"ticket": _field(page.text, "ticket"), "assignment": "capstone",
                                                      "csrf_token": _field(page.text, "csrf_token")})
    assert chosen.status_code == 200, chosen.text
    action = re.search(r'action="([^"]+)"', chosen.text)
    assert action is not None and action.group(1) == f"{lti.platform.issuer}/deep-link-return"
    returned = httpx.post(action.group(1), data={"JWT": _field(chosen.text, "JWT")}, timeout=10)
    assert returned.status_code == 200, returned.text
    [item] = lti.platform.content_items
    assert item["type"] == "ltiResourceLink" and item["url"] == "http://testserver/lti/launch"
    assert item["custom"] == {"course": "cs329", "assignment": "capstone"}
    assert item["lineItem"]["scoreMaximum"] == 40.0 and item["lineItem"]["label"] == "Capstone"
    keys = KeySet.import_key_set(lti.client.get("/lti/jwks").json())
    claims = jwt.decode(lti.platform.deep_link_jwts[0], keys, algorithms=["RS256"]).claims
    assert claims["aud"] == lti.platform.issuer and claims["iss"] == "grader-tool"
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == {"opaque": "platform-data"}
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == "deployment-1"


def test_a_student_cannot_deep_link(lti: Lti) -> None:
    lti.platform.deep_linking = True
    lti.platform.person = Person("s-1", "s@example.org", [LEARNER])
    answer = lti.launch()
    assert answer.status_code == 403 and "staff" in answer.json()["detail"]


def test_a_forged_or_foreign_ticket_and_an_unknown_assignment_are_refused(lti: Lti) -> None:
    page = _picker(lti)
    ticket, csrf = _field(page.text, "ticket"), _field(page.text, "csrf_token")
    head, body, signature = ticket.split(".")
    tampered = ".".join([head, body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB"), signature])
    for bad, words in ((tampered, "not ours"), ("garbage", "not ours")):
        answer = lti.client.post("/lti/deep-link", data={"ticket": bad, "assignment": "capstone", "csrf_token": csrf})
        assert answer.status_code == 400 and words in answer.json()["detail"]
    unknown = lti.client.post("/lti/deep-link", data={"ticket": ticket, "assignment": "nope", "csrf_token": csrf})
    assert unknown.status_code == 400 and "no assignment" in unknown.json()["detail"]
    no_csrf = lti.client.post("/lti/deep-link", data={"ticket": ticket, "assignment": "capstone"})
    assert no_csrf.status_code == 403
    # Another signed-in person cannot use the instructor's form.
    lti.platform.deep_linking = False
    lti.platform.person = Person("s-2", "s2@example.org", [LEARNER])
    lti.launch()
    other_csrf = lti.client.get("/lti/jwks")  # the client's cookie is now the student's session
    assert other_csrf.status_code == 200
    from sqlalchemy import select

    from grader.db.models import User, WebSession

    student = lti.session.scalar(select(User).where(User.email == "s2@example.org"))
    row = lti.session.scalar(select(WebSession).where(WebSession.user_id == student.id))  # type: ignore[union-attr]
    assert row is not None
    foreign = lti.client.post("/lti/deep-link", data={"ticket": ticket, "assignment": "capstone",
                                                       "csrf_token": row.csrf_token})
    assert foreign.status_code == 403 and "another person" in foreign.json()["detail"]
