"""Names and Role Provisioning: an instructor's launch records the LMS course and its roster URL; the sync
fetches the roster (with a service token, following the Link header's pages) and enrolls, re-roles and drops."""

from __future__ import annotations

import lti_platform_fixtures
from lti_platform import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, Person
from lti_platform_fixtures import Lti
from sqlalchemy import select

from grader.courses.service import course_role, enroll
from grader.db.models import CourseRole, Enrollment, LtiContext, User
from grader.users.service import create_user

lti = lti_platform_fixtures.lti
_fresh_caches = lti_platform_fixtures._fresh_caches


def _instructor_launch(lti: Lti) -> User:
    lti.platform.person = Person("prof-1", "prof@example.org", [INSTRUCTOR], "Prof")
    assert lti.launch().status_code == 303
    user = lti.session.scalar(select(User).where(User.email == "prof@example.org"))
    assert user is not None
    return user


def _user(lti: Lti, email: str) -> User:
    user = lti.session.scalar(select(User).where(User.email == email))
    assert user is not None, email
    return user


def test_the_roster_syncs_from_the_lms(lti: Lti) -> None:
    prof = _instructor_launch(lti)
    context = lti.session.scalar(select(LtiContext))
    assert context is not None and context.memberships_url == f"{lti.platform.issuer}/memberships"
    assert context.course_id == lti.course.id
    leaving, _ = create_user(lti.session, "gone@example.org", "student")
    enroll(lti.session, leaving, lti.course)
    lti.platform.members = [
        {"user_id": "prof-1", "email": "prof@example.org", "roles": [INSTRUCTOR], "status": "Active"},
        {"user_id": "s-1", "email": "ada@example.org", "name": "Ada", "roles": [LEARNER]},
        {"user_id": "s-2", "email": "bob@example.org", "name": "Bob", "roles": [LEARNER], "status": "Active"},
        {"user_id": "t-1", "email": "ta@example.org", "roles": [TEACHING_ASSISTANT]},
        {"user_id": "s-3", "name": "No Email", "roles": [LEARNER]},
        {"user_id": "s-4", "email": "gone@example.org", "roles": [LEARNER], "status": "Inactive"},
    ]
    from grader.lms.lti.nrps import staff_sync

    result = staff_sync(lti.session, prof, "cs329")
    assert result["enrolled"] == 4 and result["dropped"] == 1
    assert len(result["skipped"]) == 1 and "No Email" in result["skipped"][0]
    assert course_role(lti.session, _user(lti, "ada@example.org"), lti.course) == CourseRole.student
    assert _user(lti, "ada@example.org").name == "Ada"
    assert course_role(lti.session, _user(lti, "ta@example.org"), lti.course) == CourseRole.ta
    dropped = lti.session.scalar(select(Enrollment).where(Enrollment.user_id == leaving.id))
    assert dropped is not None and dropped.dropped_at is not None
    # The synced student launching later is the same account (found by sub).
    lti.platform.person = Person("s-2", "bob.new@example.org", [LEARNER])
    assert lti.launch().status_code == 303
    assert lti.session.scalar(select(User).where(User.email == "bob.new@example.org")) is None


def test_only_the_courses_instructor_may_sync_and_only_after_a_launch(lti: Lti) -> None:
    from grader.errors import BadRequest, Forbidden
    from grader.lms.lti.nrps import staff_sync

    prof, _ = create_user(lti.session, "p2@example.org", "instructor")
    enroll(lti.session, prof, lti.course, "instructor")
    try:
        staff_sync(lti.session, prof, "cs329")
        raise AssertionError("synced without a launch")
    except BadRequest as error:
        assert "launch the tool" in error.detail
    ta, _ = create_user(lti.session, "ta2@example.org", "student")
    enroll(lti.session, ta, lti.course, "ta")
    try:
        staff_sync(lti.session, ta, "cs329")
        raise AssertionError("a TA synced")
    except Forbidden:
        pass


def test_the_sync_route(lti: Lti) -> None:
    _instructor_launch(lti)
    prof, token = create_user(lti.session, "p3@example.org", "instructor")
    enroll(lti.session, prof, lti.course, "instructor")
    lti.platform.members = [{"user_id": "s-9", "email": "zed@example.org", "roles": [LEARNER]}]
    answer = lti.client.post("/api/v1/instructor/courses/cs329/lti/roster-sync",
                             headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"enrolled": 1, "dropped": 0, "skipped": []}
    student, student_token = create_user(lti.session, "s@example.org", "student")
    enroll(lti.session, student, lti.course)
    refused = lti.client.post("/api/v1/instructor/courses/cs329/lti/roster-sync",
                              headers={"Authorization": f"Bearer {student_token}"})
    assert refused.status_code == 403
