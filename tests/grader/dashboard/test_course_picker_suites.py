"""The instructor page's course picker lists each assignment's suites: its Assignments table shows them and its
edit form starts from them (without them the column was empty and editing started with no suite chosen)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from grader.courses.service import create_assignment, create_course
from grader.dashboard import access
from grader.users.service import create_user


def test_the_course_picker_carries_each_assignments_suites(db_session: Session) -> None:
    course = create_course(db_session, "cs7", "Systems")
    create_assignment(db_session, course, "final", "Final", suites=["capstone", "05_autograd"])
    admin, _ = create_user(db_session, "root@example.edu", "admin")
    [listed] = [c for c in access.teaching_courses(db_session, admin) if c["slug"] == "cs7"]
    assert [(a["slug"], a["suites"]) for a in listed["assignments"]] == [("final", ["capstone", "05_autograd"])]
