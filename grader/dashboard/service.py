"""The instructor dashboard's data: pure functions over a Session (they flush; the caller commits).

Every function takes the acting user and checks it first: a student gets Forbidden, an instructor who does
not teach the course gets NotFound (the same answer as for a course that does not exist, so the API does not
tell outsiders which courses exist). Admins see every course.

    course = instructor_course(session, user, "default")
    grade_table(session, user, course)          # roster x assignments, the counting score per cell
    score_histogram(session, user, course, "capstone")
    failure_rates(session, user, course, "capstone")
    csv_export(session, user, course)           # text/csv

A submission handed in after the assignment's due date counts for its late-adjusted score (grader.courses.late):
that is the score the table, the charts and the CSV's `score` column show and choose the counting submission by;
the raw score stays on the submission and is shown beside it.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

from ..courses.counting import adjusted_score, counting_submission
from ..courses.late import late_report
from ..courses.service import course_role, get_course
from ..db.models import (
    Assignment,
    Course,
    CourseRole,
    Enrollment,
    Regrade,
    Role,
    Submission,
    SubmissionStatus,
    User,
)
from ..errors import BadRequest, Forbidden, GraderError, NotFound

HISTOGRAM_BINS = 10
# `score` is the grade that counts (late penalty applied); the columns after graded_at say how it was reached.
# New columns go at the end: LMS imports map columns by position as often as by name.
CSV_COLUMNS = ("email", "assignment", "score", "max_score", "status", "graded_at", "raw_score", "days_late",
               "late_penalty")

Requeue = Callable[[uuid.UUID], None]


# --- access ---------------------------------------------------------------------------------------------------

def require_staff(user: User) -> None:
    if user.role not in (Role.instructor, Role.admin):
        raise Forbidden("the dashboard is for instructors")


def require_teaches(session: Session, user: User, course: Course) -> None:
    require_staff(user)
    if course_role(session, user, course) != CourseRole.instructor:
        # NotFound rather than Forbidden: another instructor's course is none of this one's business.
        raise NotFound(f"no course {course.slug!r}")


def instructor_course(session: Session, user: User, slug: str) -> Course:
    """The course `slug` if `user` teaches it; the student check comes first so a student always gets 403."""
    require_staff(user)
    course = get_course(session, slug)
    require_teaches(session, user, course)
    return course


def teaching_courses(session: Session, user: User) -> list[dict[str, Any]]:
    """The courses `user` teaches, with their assignments: what the dashboard's course picker lists."""
    require_staff(user)
    courses = session.scalars(select(Course).order_by(Course.slug).options(selectinload(Course.assignments)))
    return [
        {"slug": c.slug, "name": c.name, "assignments": [_assignment_json(a) for a in _ordered(c.assignments)]}
        for c in courses
        if course_role(session, user, c) == CourseRole.instructor
    ]


def _assignment(session: Session, course: Course, slug: str) -> Assignment:
    found = session.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug))
    if found is None:
        raise NotFound(f"no assignment {slug!r} in course {course.slug!r}")
    return found


def _submission(session: Session, user: User, submission_id: uuid.UUID | str) -> Submission:
    try:
        key = submission_id if isinstance(submission_id, uuid.UUID) else uuid.UUID(str(submission_id))
    except ValueError:
        raise NotFound(f"no submission {submission_id}") from None
    require_staff(user)
    submission = session.get(Submission, key)
    if submission is None:
        raise NotFound(f"no submission {submission_id}")
    try:
        require_teaches(session, user, submission.assignment.course)
    except NotFound:
        raise NotFound(f"no submission {submission_id}") from None
    return submission


# --- the grade table --------------------------------------------------------------------------------------------

def _ordered(assignments: Iterable[Assignment]) -> list[Assignment]:
    return sorted(assignments, key=lambda a: (a.due_at is None, a.due_at or datetime.min, a.slug))


def _assignment_json(a: Assignment) -> dict[str, Any]:
    return {"slug": a.slug, "title": a.title, "score_policy": a.score_policy,
            "due_at": a.due_at.isoformat() if a.due_at else None, "late_policy": dict(a.late_policy or {})}


def roster(session: Session, course: Course) -> list[User]:
    """The course's students: enrolled as students, anyone who handed in, and in an open course every user
    with the student role. Sorted by email."""
    users: dict[int, User] = {}
    enrolled = select(User).join(Enrollment).where(Enrollment.course_id == course.id,
                                                   Enrollment.role == CourseRole.student.value)
    for user in session.scalars(enrolled):
        users[user.id] = user
    submitted = select(User).join(Submission, Submission.user_id == User.id).join(Assignment).where(
        Assignment.course_id == course.id).distinct()
    for user in session.scalars(submitted):
        users[user.id] = user
    if course.open_to_all_students:
        for user in session.scalars(select(User).where(User.role == Role.student.value)):
            users[user.id] = user
    return sorted(users.values(), key=lambda u: u.email)


def _course_submissions(session: Session, course: Course) -> dict[tuple[int, int], list[Submission]]:
    """Every submission of the course, grouped by (assignment id, user id)."""
    query = select(Submission).join(Assignment).where(Assignment.course_id == course.id)
    grouped: dict[tuple[int, int], list[Submission]] = {}
    for submission in session.scalars(query):
        grouped.setdefault((submission.assignment_id, submission.user_id), []).append(submission)
    return grouped


def _cell(submissions: Sequence[Submission], policy: str) -> dict[str, Any] | None:
    chosen = counting_submission(submissions, policy)
    if chosen is None:
        return None
    graded = chosen.status == SubmissionStatus.graded.value
    late = late_report(chosen.assignment, chosen.created_at, chosen.score if graded else None)
    return {
        "submission_id": str(chosen.id),
        "score": (late["adjusted_score"] if late else chosen.score) if graded else None,
        "raw_score": chosen.score if graded else None,
        "late": late,
        "max_score": chosen.max_score,
        "status": chosen.status,
        "graded_at": chosen.graded_at.isoformat() if chosen.graded_at else None,
        "submissions": len(submissions),
    }


def grade_table(session: Session, user: User, course: Course) -> dict[str, Any]:
    """Roster x assignments: per cell the counting submission (see counting_submission), or None."""
    require_teaches(session, user, course)
    assignments = _ordered(course.assignments)
    grouped = _course_submissions(session, course)
    rows = []
    for student in roster(session, course):
        cells = {a.slug: _cell(grouped.get((a.id, student.id), []), a.score_policy) for a in assignments}
        rows.append({"user_id": student.id, "email": student.email, "grades": cells})
    return {
        "course": {"slug": course.slug, "name": course.name},
        "assignments": [_assignment_json(a) for a in assignments],
        "rows": rows,
    }


def _counting(session: Session, course: Course, assignment: Assignment) -> list[Submission]:
    grouped = _course_submissions(session, course)
    chosen = [counting_submission(subs, assignment.score_policy)
              for (assignment_id, _), subs in grouped.items() if assignment_id == assignment.id]
    return [s for s in chosen if s is not None and s.status == SubmissionStatus.graded.value]


# --- charts -------------------------------------------------------------------------------------------------------

def score_histogram(session: Session, user: User, course: Course, assignment_slug: str,
                    bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """How many students' counting scores fall in each of `bins` equal bands of 0-100 %; 100 % is in the last."""
    require_teaches(session, user, course)
    if not 1 <= bins <= 100:
        raise BadRequest("bins must be between 1 and 100")
    assignment = _assignment(session, course, assignment_slug)
    counts = [0] * bins
    percents = []
    for submission in _counting(session, course, assignment):
        # Percent, not points: the rubric (and so max_score) may differ between submissions graded at
        # different times.
        score = adjusted_score(submission) or 0.0
        percent = 100.0 * score / submission.max_score if submission.max_score else 0.0
        percents.append(percent)
        counts[min(bins - 1, int(percent * bins / 100.0))] += 1
    width = 100.0 / bins
    return {
        "assignment": assignment.slug,
        "graded": len(percents),
        "mean_percent": sum(percents) / len(percents) if percents else None,
        "bins": [{"lo": i * width, "hi": (i + 1) * width, "count": c} for i, c in enumerate(counts)],
    }


def failure_rates(session: Session, user: User, course: Course, assignment_slug: str) -> dict[str, Any]:
    """Per test, the share of students whose counting submission did not pass it; worst first."""
    require_teaches(session, user, course)
    assignment = _assignment(session, course, assignment_slug)
    counting = _counting(session, course, assignment)
    if counting:
        # One query for every counting submission's results, not one per student.
        session.scalars(select(Submission).where(Submission.id.in_([s.id for s in counting]))
                        .options(selectinload(Submission.results))).all()
    tests: dict[tuple[str, str], dict[str, Any]] = {}
    for submission in counting:
        for result in submission.results:
            entry = tests.setdefault((result.suite, result.name), {
                "suite": result.suite, "name": result.name, "priority": result.priority,
                "attempted": 0, "failed": 0,
            })
            entry["attempted"] += 1
            entry["failed"] += result.outcome != "passed"
    rows = [{**t, "rate": t["failed"] / t["attempted"]} for t in tests.values()]
    rows.sort(key=lambda t: (-t["rate"], t["priority"] if t["priority"] is not None else 1_000, t["name"]))
    return {"assignment": assignment.slug, "students": len(counting), "tests": rows}


# --- one submission -------------------------------------------------------------------------------------------

def submission_report(session: Session, user: User, submission_id: uuid.UUID | str) -> dict[str, Any]:
    """One submission's full report for its instructor: every test (hidden ones included) with diagnostic,
    evidence, traceback and output, plus who handed it in and its regrade history."""
    submission = _submission(session, user, submission_id)
    regrades = session.scalars(select(Regrade).where(Regrade.submission_id == submission.id)
                               .order_by(Regrade.created_at)).all()
    return {
        "id": str(submission.id),
        "email": submission.user.email,
        "course": submission.assignment.course.slug,
        "assignment": submission.assignment.slug,
        "status": submission.status,
        "score": submission.score,
        "max_score": submission.max_score,
        "late": late_report(submission.assignment, submission.created_at, submission.score),
        "priorities": submission.priorities,
        "compile_errors": submission.compile_errors,
        "error": submission.error,
        "seed": submission.seed,
        "suite_version": submission.suite_version,
        "sandbox_image": submission.sandbox_image,
        "attempt": submission.attempt,
        "created_at": submission.created_at.isoformat(),
        "graded_at": submission.graded_at.isoformat() if submission.graded_at else None,
        "tests": [
            {"suite": r.suite, "name": r.name, "priority": r.priority, "outcome": r.outcome, "points": r.points,
             "max_points": r.max_points, "counts_toward_grade": r.counts_toward_grade, "module": r.module,
             "diagnostic": r.diagnostic, "evidence": r.evidence, "traceback": r.traceback, "output": r.output}
            for r in submission.results
        ],
        "regrades": _regrades_json(session, regrades),
    }


# --- regrades -----------------------------------------------------------------------------------------------------

def _resolve_requeue(requeue: Requeue | None) -> Requeue:
    """The function that puts a submission back on the queue: `grader.submissions.requeue(submission_id)`
    unless a caller passes its own. Resolved before any bookkeeping, so a service without it refuses the
    regrade cleanly instead of recording regrades nothing will ever run."""
    if requeue is not None:
        return requeue
    try:
        # Imported on use: grader.submissions pulls in the broker client, which the dashboard's read-only
        # functions (and their tests) do not need.
        from ..submissions import requeue as submissions_requeue
    except ImportError as error:
        raise GraderError(f"regrading is unavailable: {error}") from None
    return submissions_requeue


def _requeue_after_commit(session: Session, ids: list[uuid.UUID], requeue: Requeue) -> None:
    """Enqueue the regrades once the Regrade rows are committed: a worker must never pick up a regrade
    whose bookkeeping a rollback then erased, nor see the submission before the row exists."""

    def _after_commit(_session: Session) -> None:
        for submission_id in ids:
            requeue(submission_id)

    event.listen(session, "after_commit", _after_commit, once=True)


def _start_regrade(session: Session, user: User, submission: Submission, batch: uuid.UUID) -> Regrade:
    regrade = Regrade(
        submission_id=submission.id, requested_by_id=user.id, batch=batch, old_score=submission.score,
        old_max_score=submission.max_score, old_suite_version=submission.suite_version,
        old_sandbox_image=submission.sandbox_image,
    )
    session.add(regrade)
    return regrade


def regrade_one(session: Session, user: User, submission_id: uuid.UUID | str, *,
                requeue: Requeue | None = None) -> dict[str, Any]:
    """Record a regrade of one submission (its grade before) and requeue it when the transaction commits."""
    submission = _submission(session, user, submission_id)
    run = _resolve_requeue(requeue)
    batch = uuid.uuid4()
    regrade = _start_regrade(session, user, submission, batch)
    session.flush()
    _requeue_after_commit(session, [submission.id], run)
    return {"batch": str(batch), "regrades": _regrades_json(session, [regrade])}


def regrade_all(session: Session, user: User, course: Course, assignment_slug: str, *,
                requeue: Requeue | None = None) -> dict[str, Any]:
    """Regrade every graded or failed submission of one assignment as one batch. Queued and running ones are
    left alone: they are about to be graded with the current suite anyway."""
    require_teaches(session, user, course)
    assignment = _assignment(session, course, assignment_slug)
    run = _resolve_requeue(requeue)
    done = (SubmissionStatus.graded.value, SubmissionStatus.failed.value)
    submissions = session.scalars(select(Submission).where(Submission.assignment_id == assignment.id,
                                                           Submission.status.in_(done))
                                  .order_by(Submission.created_at)).all()
    batch = uuid.uuid4()
    regrades = [_start_regrade(session, user, s, batch) for s in submissions]
    session.flush()
    _requeue_after_commit(session, [s.id for s in submissions], run)
    return {"batch": str(batch), "regrades": _regrades_json(session, regrades)}


def regrade_batch(session: Session, user: User, batch: uuid.UUID | str) -> dict[str, Any]:
    """One batch's regrades: which finished and how each score changed."""
    require_staff(user)
    try:
        key = batch if isinstance(batch, uuid.UUID) else uuid.UUID(str(batch))
    except ValueError:
        raise NotFound(f"no regrade batch {batch}") from None
    rows = session.scalars(select(Regrade).where(Regrade.batch == key).order_by(Regrade.id)).all()
    if not rows:
        raise NotFound(f"no regrade batch {batch}")
    try:
        for row in rows:
            require_teaches(session, user, row.submission.assignment.course)
    except NotFound:
        raise NotFound(f"no regrade batch {batch}") from None
    changed = [r for r in rows if r.finished_at is not None and r.new_score != r.old_score]
    return {"batch": str(key), "total": len(rows), "finished": sum(r.finished_at is not None for r in rows),
            "changed": len(changed), "regrades": _regrades_json(session, rows)}


def _regrades_json(session: Session, rows: Sequence[Regrade]) -> list[dict[str, Any]]:
    finished = [r for r in rows if r.finished_at is not None]
    later: dict[uuid.UUID, list[Regrade]] = {}
    if finished:
        # Every regrade of the same submissions, in one query: a later regrade's old_* is what an earlier one
        # produced, even after the submission has been graded again since.
        others = session.scalars(select(Regrade).where(Regrade.submission_id.in_({r.submission_id for r in finished}))
                                 .order_by(Regrade.id)).all()
        for other in others:
            later.setdefault(other.submission_id, []).append(other)
    return [_regrade_json(r, _graded_with(r, later.get(r.submission_id, []))) for r in rows]


def _graded_with(r: Regrade, same_submission: Sequence[Regrade]) -> tuple[str | None, str | None]:
    """(suite version, sandbox image) the regrade `r` graded with; (None, None) while it is pending.

    Regrade rows keep only the versions from before. The first regrade of the same submission requested
    after `r` finished recorded `r`'s result as its old_*; with none, the submission still carries it.
    """
    if r.finished_at is None:
        return None, None
    for successor in same_submission:
        if successor.id > r.id and successor.created_at is not None and successor.created_at >= r.finished_at:
            return successor.old_suite_version, successor.old_sandbox_image
    return r.submission.suite_version, r.submission.sandbox_image


def _regrade_json(r: Regrade, graded_with: tuple[str | None, str | None] = (None, None)) -> dict[str, Any]:
    delta = None
    if r.finished_at is not None and r.new_score is not None and r.old_score is not None:
        delta = r.new_score - r.old_score
    new_suite_version, new_sandbox_image = graded_with
    return {
        "id": r.id, "batch": str(r.batch), "submission_id": str(r.submission_id),
        "old_score": r.old_score, "old_max_score": r.old_max_score, "old_suite_version": r.old_suite_version,
        "old_sandbox_image": r.old_sandbox_image, "new_score": r.new_score, "new_max_score": r.new_max_score,
        "new_suite_version": new_suite_version, "new_sandbox_image": new_sandbox_image,
        "delta": delta, "created_at": r.created_at.isoformat() if r.created_at else None,
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
    }


# --- CSV ----------------------------------------------------------------------------------------------------------

def csv_export(session: Session, user: User, course: Course) -> str:
    """One row per student per assignment (the counting grade, or status `missing`), CSV_COLUMNS: `score` is
    the late-adjusted grade that counts, `raw_score` the grade before the penalty, `days_late` and
    `late_penalty` (the share taken off, 0-1) say why they differ; both are 0 for work on time."""
    table = grade_table(session, user, course)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in table["rows"]:
        for assignment in table["assignments"]:
            cell = row["grades"][assignment["slug"]]
            if cell is None:
                writer.writerow([row["email"], assignment["slug"], "", "", "missing", "", "", "", ""])
                continue
            late = cell["late"] or {"days_late": 0, "penalty": 0.0}
            writer.writerow([row["email"], assignment["slug"], _number(cell["score"]), _number(cell["max_score"]),
                             cell["status"], cell["graded_at"] or "", _number(cell["raw_score"]),
                             late["days_late"], _number(late["penalty"])])
    return out.getvalue()


def _number(value: float | None) -> str:
    # "7" rather than "7.0": spreadsheets and LMS importers read both, people prefer the short form.
    if value is None:
        return ""
    return f"{value:g}" if value == int(value) else repr(value)
