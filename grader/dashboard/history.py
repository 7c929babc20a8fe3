"""Every submission one student handed in to a course, for its staff: newest first, each with its automatic
score, what it counts for, any override and whether it is the one that counts for its assignment.

    student_submissions(session, user, course, user_id)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..courses.counting import counted_score, counting_submission
from ..courses.late import late_report
from ..db.models import Assignment, Course, Enrollment, Role, Submission, SubmissionStatus, User
from ..errors import NotFound
from .access import require_teaches
from .coursework import extensions_of

# Ids are database integers; anything outside this range is no user (and must not reach the database driver,
# which refuses integers it cannot bind).
_MAX_ID = 2**31 - 1


def _student_id(user_id: int | str) -> int | None:
    text = str(user_id).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:  # not "١٢", which int() reads as 12
        return None
    value = int(text)
    return value if 0 < value <= _MAX_ID else None


def _student(session: Session, course: Course, user_id: int | str) -> tuple[User, Enrollment | None]:
    """The user if they belong to the course's work: enrolled (in any role, dropped too: their submissions
    stay), on its roster (an open course), or with a submission to it. NotFound for anyone else."""
    key = _student_id(user_id)
    missing = NotFound(f"no student {str(user_id)[:40]!r} in course {course.slug!r}")
    student = session.get(User, key) if key is not None else None
    if student is None:
        raise missing
    enrollment = session.scalar(select(Enrollment).where(Enrollment.course_id == course.id,
                                                         Enrollment.user_id == student.id))
    open_to_them = course.open_to_all_students and student.role == Role.student.value
    handed_in = session.scalar(select(Submission.id).join(Assignment).where(
        Assignment.course_id == course.id, Submission.user_id == student.id).limit(1)) is not None
    if enrollment is None and not open_to_them and not handed_in:
        raise missing
    return student, enrollment


def student_submissions(session: Session, user: User, course: Course, user_id: int | str) -> dict[str, Any]:
    require_teaches(session, user, course)
    student, enrollment = _student(session, course, user_id)
    submissions = session.scalars(select(Submission).join(Assignment).where(
        Assignment.course_id == course.id, Submission.user_id == student.id)
        .order_by(Submission.created_at.desc())).all()
    extensions = extensions_of(session, [a.id for a in course.assignments])
    by_assignment: dict[int, list[Submission]] = {}
    for submission in submissions:
        by_assignment.setdefault(submission.assignment_id, []).append(submission)
    counting_ids = set()
    for assignment_id, theirs in by_assignment.items():
        chosen = counting_submission(theirs, theirs[0].assignment.score_policy,
                                     extensions.get((assignment_id, student.id)))
        if chosen is not None:
            counting_ids.add(chosen.id)
    rows = []
    for s in submissions:
        due_at = extensions.get((s.assignment_id, student.id))
        graded = s.status == SubmissionStatus.graded.value and s.score is not None
        rows.append({
            "id": str(s.id), "assignment": s.assignment.slug, "status": s.status, "score": s.score,
            "max_score": s.max_score, "counted_score": counted_score(s, due_at) if graded else None,
            "override_score": s.override_score, "override_comment": s.override_comment,
            "late": late_report(s.assignment, s.created_at, s.score, due_at), "filename": s.filename,
            "created_at": s.created_at.isoformat(), "graded_at": s.graded_at.isoformat() if s.graded_at else None,
            "counts": s.id in counting_ids,
        })
    return {
        "user": {"user_id": student.id, "email": student.email, "name": student.name,
                 "role": enrollment.role if enrollment else None,
                 "section": enrollment.section if enrollment else None,
                 "sis_id": enrollment.sis_id if enrollment else None,
                 "dropped": enrollment is not None and enrollment.dropped_at is not None},
        "submissions": rows,
    }
