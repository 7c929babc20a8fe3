"""Courses: the default course of a fresh install, enrollments, who may do what, finding assignments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.courses.service import (
    CAPSTONE_SLUG,
    DEFAULT_COURSE_SLUG,
    course_role,
    courses_for,
    create_assignment,
    create_course,
    enroll,
    ensure_default_course,
    get_assignment,
    get_course,
)
from grader.db.models import Assignment, Course
from grader.errors import BadRequest, Conflict, NotFound
from grader.users.service import create_user


def _count(db_session: Session, model: type) -> int:
    return db_session.scalar(select(func.count()).select_from(model)) or 0


def test_default_course_is_created_once_with_an_open_capstone(db_session: Session) -> None:
    course = ensure_default_course(db_session)
    assert course is not None and course.slug == DEFAULT_COURSE_SLUG and course.open_to_all_students
    assert ensure_default_course(db_session) is course
    assert _count(db_session, Course) == 1 and _count(db_session, Assignment) == 1
    capstone = get_assignment(db_session, CAPSTONE_SLUG)
    assert capstone.course is course and capstone.suites == ["capstone"] and capstone.score_policy == "best"
    # Open to every student with no enrollment at all.
    student, _ = create_user(db_session, "ada@example.edu", "student")
    assert course_role(db_session, student, course) == "student"
    assert get_assignment(db_session, "capstone", user=student) is capstone


def test_default_course_is_not_recreated_once_other_courses_exist(db_session: Session) -> None:
    create_course(db_session, "cs329", "ML systems")
    assert ensure_default_course(db_session) is None
    assert _count(db_session, Course) == 1


def test_roles_in_courses(db_session: Session) -> None:
    closed = create_course(db_session, "cs329", "ML systems")
    open_course = create_course(db_session, "open", "Open", open_to_all_students=True)
    student, _ = create_user(db_session, "s@example.edu", "student")
    teacher, _ = create_user(db_session, "t@example.edu", "instructor")
    admin, _ = create_user(db_session, "a@example.edu", "admin")
    assert course_role(db_session, student, closed) is None
    assert course_role(db_session, teacher, open_course) is None  # open to students, not to other instructors
    assert course_role(db_session, admin, closed) == "instructor"
    enroll(db_session, student, closed)
    enroll(db_session, teacher, closed)
    assert course_role(db_session, student, closed) == "student"
    assert course_role(db_session, teacher, closed) == "instructor"
    enroll(db_session, student, closed, "instructor")  # enrolling again changes the role, no duplicate
    assert course_role(db_session, student, closed) == "instructor"
    assert [c.slug for c in courses_for(db_session, teacher)] == ["cs329"]
    assert [c.slug for c in courses_for(db_session, student)] == ["cs329", "open"]
    with pytest.raises(BadRequest):
        enroll(db_session, student, closed, "admin")


def test_assignments_by_slug_and_by_course(db_session: Session) -> None:
    a = create_course(db_session, "a", "A")
    b = create_course(db_session, "b", "B")
    due = datetime(2030, 1, 1, tzinfo=UTC)
    in_a = create_assignment(db_session, a, "capstone", "Capstone A", due_at=due, max_submissions_per_hour=5,
                             late_policy={"penalty_per_day": 0.1}, score_policy="latest")
    in_b = create_assignment(db_session, b, "capstone", "Capstone B", suites=["capstone", "05_autograd"])
    with pytest.raises(Conflict, match="a/capstone, b/capstone"):
        get_assignment(db_session, "capstone")
    assert get_assignment(db_session, "capstone", course_slug="a") is in_a
    assert get_assignment(db_session, "b/capstone") is in_b
    student, _ = create_user(db_session, "s@example.edu", "student")
    enroll(db_session, student, b)
    assert get_assignment(db_session, "capstone", user=student) is in_b
    with pytest.raises(NotFound):
        get_assignment(db_session, "a/capstone", user=student)  # exists, but not for this student
    with pytest.raises(NotFound):
        get_assignment(db_session, "homework")
    with pytest.raises(NotFound):
        get_course(db_session, "zz")


def test_assignment_validation(db_session: Session) -> None:
    course = create_course(db_session, "a", "A")
    with pytest.raises(BadRequest, match="unknown suites"):
        create_assignment(db_session, course, "x", "X", suites=["nope"])
    with pytest.raises(BadRequest, match="best or latest"):
        create_assignment(db_session, course, "x", "X", score_policy="mean")
    with pytest.raises(BadRequest, match="visibility"):
        create_assignment(db_session, course, "x", "X", rubric_visibility={"capstone::t": "secret"})
    with pytest.raises(BadRequest, match="slug"):
        create_assignment(db_session, course, "Has Spaces", "X")
    create_assignment(db_session, course, "x", "X")
    with pytest.raises(Conflict):
        create_assignment(db_session, course, "x", "again")
    with pytest.raises(Conflict):
        create_course(db_session, "a", "A again")
