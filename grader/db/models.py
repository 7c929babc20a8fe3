"""The service's tables. The schema itself is owned by the Alembic migrations (migrations/versions/); these
classes must match them, which tests/grader/db/test_migrations.py checks by comparing the two.

Enumerations are short strings guarded by CHECK constraints rather than database enums: the same on SQLite
and PostgreSQL, and adding a value is a one-line migration instead of an ALTER TYPE.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..roles import Role
from .base import Base, utcnow

__all__ = ["Role"]  # defined in grader.roles (importable without SQLAlchemy); models use and re-export it


class CourseRole(StrEnum):
    student = "student"
    ta = "ta"  # course staff: sees and grades the course's work, cannot change the course or its staff
    instructor = "instructor"


class SubmissionStatus(StrEnum):
    queued = "queued"
    running = "running"
    graded = "graded"
    failed = "failed"


class Outcome(StrEnum):
    passed = "passed"
    failed = "failed"
    error = "error"
    skipped = "skipped"
    timeout = "timeout"


class ScorePolicy(StrEnum):
    best = "best"
    latest = "latest"


class Visibility(StrEnum):
    visible = "visible"
    after_due_date = "after_due_date"
    hidden = "hidden"


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored lower-cased (users.service.normalize_email), so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # As a roster gives it ("Ada Lovelace"); None until one does.
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", passive_deletes=True)
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="user", passive_deletes=True)


class ApiToken(Base):
    """A bearer token. Only its sha256 is kept: a leaked database (or backup) yields no usable token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters: shown in listings so a user can tell tokens apart, and used to find the
    # candidate rows before the constant-time hash comparison (it reveals nothing that guesses could use).
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Every user with the student role may submit to this course's assignments without an enrollment: the
    # default course of a fresh install is open, so `grader users add` alone lets a student hand in.
    open_to_all_students: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An archived course is read-only: kept with its grades, hidden from students' lists, no new submissions.
    archived_at: Mapped[datetime | None]

    assignments: Mapped[list[Assignment]] = relationship(back_populates="course", passive_deletes=True)
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="course", passive_deletes=True)


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        CheckConstraint(_one_of("role", CourseRole), name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # user_id needs no index of its own: the unique constraint's index starts with it.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    # From the roster: the section and the student's id in the institution's system (Canvas "SIS User ID").
    section: Mapped[str | None] = mapped_column(String(100))
    sis_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A dropped student keeps their row (their submissions stay), but has no role in the course any more.
    dropped_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="enrollments")
    course: Mapped[Course] = relationship(back_populates="enrollments")


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("course_id", "slug"),
        CheckConstraint(_one_of("score_policy", ScorePolicy), name="score_policy"),
        CheckConstraint("max_submissions_per_hour IS NULL OR max_submissions_per_hour > 0",
                        name="max_submissions_per_hour"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Deleting a course must not silently delete graded work: submissions reference assignments with
    # RESTRICT, so the cascade from course stops there.
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    # Suite names as in capstone_tests.registry.SUITES, e.g. ["capstone"].
    suites: Mapped[list[str]] = mapped_column(default=lambda: ["capstone"])
    # Per-test overrides of the rubric's visibility: {"<suite>::<test>": "visible|after_due_date|hidden"}.
    rubric_visibility: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Submissions are refused before this moment; None: open from creation.
    opens_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    # The zone the due date was given in (an IANA name such as "Europe/Zurich", or an offset such as "+01:00"):
    # due_at is stored in UTC, and shown back to people in this zone. None: UTC.
    due_time_zone: Mapped[str | None] = mapped_column(String(64))
    # Points overriding the rubric's: {"P3": 20} for a priority's total, {"capstone::test_x": 5} for one test.
    # {} keeps the rubric's points.
    points: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    # e.g. {"penalty_per_day": 0.1, "max_late_days": 7}; {} means late work is not penalised.
    late_policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # None: no limit.
    max_submissions_per_hour: Mapped[int | None] = mapped_column(Integer)
    score_policy: Mapped[str] = mapped_column(String(8), default=ScorePolicy.best.value)
    # The course edition the assignment follows (capstone_tests/editions.py: "2025-12" or "current"), whose
    # module numbers and names its diagnostics use; None: seen from each package's file names.
    edition: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Archived: hidden from students, no new submissions; its grades stay.
    archived_at: Mapped[datetime | None]

    course: Mapped[Course] = relationship(back_populates="assignments")


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        CheckConstraint(_one_of("status", SubmissionStatus), name="status"),
        # The rate limit and "best/latest score" both read one student's submissions to one assignment by time.
        Index("ix_submissions_assignment_id_user_id_created_at", "assignment_id", "user_id", "created_at"),
    )

    # A random UUID, not a counter: it appears in URLs, must not reveal how many submissions exist, and can
    # be chosen before the row is written (the worker's scratch folder is named after it).
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    # The archive in the content-addressed store (grader.intake.ArchiveStore).
    archive_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=SubmissionStatus.queued.value, index=True)
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    # The report's priority groups [{"priority", "name", "score", "max_score"}] as graded: kept with the grade
    # because the rubric (and so the names and points) may change after it.
    priorities: Mapped[list[Any]] = mapped_column(default=list)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    suite_version: Mapped[str | None] = mapped_column(String(64))
    sandbox_image: Mapped[str | None] = mapped_column(String(200))
    # The course edition whose module numbers and names the stored diagnostics use ("2025-12", "current").
    edition: Mapped[str | None] = mapped_column(String(16))
    # Why grading failed (status failed): an infrastructure problem, never the student's own test failures.
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    graded_at: Mapped[datetime | None]
    # When the grading task was last handed to the broker; None while no message is known to be out (the broker
    # was down at upload time, or a sweeper gave the row back), which is what grader.submissions.sweeper finds.
    enqueued_at: Mapped[datetime | None]
    # How many times a worker has started grading this submission (re-deliveries and regrades included).
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # The package's files that do not compile, found at upload (grader.intake.compile_check):
    # [{"file", "line", "column", "text", "message"}]. Kept with the row because the student is told at once, long
    # before any test result exists; refreshed when the worker unpacks it again.
    compile_errors: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    # The lease on a running grading: which worker process holds it (Worker.id) and when it last said it still
    # does. A running row whose heartbeat is older than the lease is the holder's no longer (it died), and is
    # taken over: by a redelivery of its message or by the sweeper.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]
    # Why a queued submission waits longer than usual (the grading machine's sandbox is unusable, say): shown to
    # the student as "grading is delayed", cleared when grading starts. Never a fault of the student's.
    delayed_reason: Mapped[str | None] = mapped_column(Text)
    # The uploaded file's name as the student's browser or curl sent it (shown in their history), cleaned.
    filename: Mapped[str | None] = mapped_column(String(255))
    # A score set by course staff, kept beside the automatic one (both are shown); it counts instead of it.
    override_score: Mapped[float | None] = mapped_column(Float)
    override_comment: Mapped[str | None] = mapped_column(Text)
    # The staff member's email (not a foreign key: the record keeps the name if the account goes).
    override_by: Mapped[str | None] = mapped_column(String(254))
    override_at: Mapped[datetime | None]

    assignment: Mapped[Assignment] = relationship()
    user: Mapped[User] = relationship()
    results: Mapped[list[TestResult]] = relationship(
        back_populates="submission", passive_deletes=True, order_by="TestResult.id"
    )


class TestResult(Base):
    __tablename__ = "test_results"
    __test__ = False  # not a pytest test class, whatever its name says
    __table_args__ = (
        # One row per test per submission: a re-delivered task cannot leave a second result behind.
        UniqueConstraint("submission_id", "suite", "name"),
        CheckConstraint(_one_of("outcome", Outcome), name="outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    suite: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    points: Mapped[float] = mapped_column(Float, default=0.0)
    max_points: Mapped[float] = mapped_column(Float, default=0.0)
    counts_toward_grade: Mapped[bool] = mapped_column(Boolean, default=True)
    module: Mapped[str | None] = mapped_column(String(100))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    traceback: Mapped[list[Any]] = mapped_column(default=list)
    output: Mapped[str] = mapped_column(Text, default="")

    submission: Mapped[Submission] = relationship(back_populates="results")


class Regrade(Base):
    """One submission graded again: the grade before and after, so the dashboard can show what changed.

    A "regrade all" creates one row per submission with the same `batch`.
    """

    __tablename__ = "regrades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    batch: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4, index=True)
    old_score: Mapped[float | None] = mapped_column(Float)
    old_max_score: Mapped[float | None] = mapped_column(Float)
    old_suite_version: Mapped[str | None] = mapped_column(String(64))
    old_sandbox_image: Mapped[str | None] = mapped_column(String(200))
    # Filled in when the new grade is written; None while the regrade is pending.
    new_score: Mapped[float | None] = mapped_column(Float)
    new_max_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    submission: Mapped[Submission] = relationship()


class Extension(Base):
    """One student's own due date for one assignment (illness, accommodation): lateness is counted from it."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignInLink(Base):
    """A one-time sign-in link's secret, by its sha256 only (as API tokens): emailed, or copied by staff."""

    __tablename__ = "sign_in_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser: the cookie holds the secret, the database its sha256 and the session's CSRF token."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WorkerState(StrEnum):
    ready = "ready"  # taking work
    sandbox_unhealthy = "sandbox_unhealthy"  # its sandbox failed the canary run: it takes no work until it passes
    stopping = "stopping"  # shutting down: finishes what it holds, takes nothing new


class Worker(Base):
    """A grading worker process, as it last reported itself: /healthz and /metrics read liveness and sandbox
    health from here (any API replica sees every worker, on any host), and a lease names its holder by id."""

    __tablename__ = "workers"
    __table_args__ = (CheckConstraint(_one_of("state", WorkerState), name="state"),)

    # "<hostname>:<pid>:<random>": unique across hosts and across a pid reused after a restart.
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32), default=WorkerState.ready.value)
    # What is wrong when state is not ready (the canary's error, say), for the operator.
    detail: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# ------------------------------------------------------------------------------------ the LMS: signed webhooks
class WebhookState(StrEnum):
    pending = "pending"  # to be sent at next_attempt_at (again, after a failed try)
    delivered = "delivered"  # the receiver answered 2xx
    failed = "failed"  # gave up: out of tries, or the endpoint is gone (410) or disabled


class WebhookEndpoint(Base):
    """A URL of a course's LMS (or anything) that receives its grade events, signed with its own secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # "whsec_" + base64 (Standard Webhooks): the receiver needs it as is to verify, so it is kept, not hashed.
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the receiver answered 410 Gone (or staff removed it): nothing more is sent there.
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class LmsEvent(Base):
    """One change of a counting score (graded, failed, override): its payload as of the change; its id is the
    webhook-id every delivery of it carries, so a receiver de-duplicates on it."""

    __tablename__ = "lms_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one event for one endpoint, sent (and retried) by the grader.deliver_webhook task."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        CheckConstraint(_one_of("state", WebhookState), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lms_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=WebhookState.pending.value)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    # When the next try is due (a claimed try pushes it past its own time limit, so a duplicate message skips).
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    # When its task was last handed to the broker (None: not known to be out; the sweeper sends it).
    enqueued_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[LmsEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


class WebhookAttempt(Base):
    """One HTTP try of a delivery, as the receiver answered it (or why it could not)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str | None] = mapped_column(Text)  # at most 1 KB of the body
    error: Mapped[str | None] = mapped_column(Text)


# ------------------------------------------------------------------------------------------------ LTI 1.3 (tool)
class LtiPlatform(Base):
    """An LMS registered to launch this tool (docs/lms.md, "LTI 1.3"): for the whole install, or one course."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # The deployment ids this registration accepts (a list of strings): a launch naming another is refused.
    deployment_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    jwks_url: Mapped[str] = mapped_column(String(1000))
    auth_url: Mapped[str] = mapped_column(String(1000))
    token_url: Mapped[str] = mapped_column(String(1000))
    # None: the launch names the course (the custom parameter `course`); else every launch lands in this course.
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiKey(Base):
    """The tool's own RSA key pairs. The newest live one signs; every unretired one is served at /lti/jwks, so a
    platform that cached the old key keeps verifying until it refetches."""

    __tablename__ = "lti_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class LtiLoginState(Base):
    """One OIDC login in flight: its state (by sha256) and nonce, used once, valid for minutes."""

    __tablename__ = "lti_login_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LtiIdentity(Base):
    """Who a platform's `sub` is here: the same person launching again is the same user, whatever their email."""

    __tablename__ = "lti_identities"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiContext(Base):
    """An LMS course (context) that launched into one of ours, and its Names and Role service URL (NRPS)."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    memberships_url: Mapped[str | None] = mapped_column(String(1000))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiLineItem(Base):
    """Where an assignment's scores go on a platform: the AGS line item a launch named for it."""

    __tablename__ = "lti_line_items"
    __table_args__ = (UniqueConstraint("platform_id", "assignment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    lineitem_url: Mapped[str] = mapped_column(String(1000))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiScoreOutbox(Base):
    """A score waiting to be sent to a platform: written in the grade's transaction, sent by a task after it."""

    __tablename__ = "lti_score_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    lineitem_url: Mapped[str] = mapped_column(String(1000))
    # The score message itself (userId, scoreGiven, scoreMaximum, progress, timestamp), as it will be sent.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # The platform's id of the student (the payload's userId), to supersede an older unsent score of theirs.
    user_sub: Mapped[str | None] = mapped_column(String(255))
    # When the next try is due (grader.lms.lti.score_outbox): the sweeper sends a row due for a while whose
    # message was lost; enqueued_at is its claim.
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    enqueued_at: Mapped[datetime | None]
    superseded_at: Mapped[datetime | None]  # a newer score for the same person and line item replaced it unsent
    gave_up_at: Mapped[datetime | None]  # every try failed; `grader lti send-scores` starts it over


# --- similarity (grader.similarity; docs/similarity.md) -------------------------------------------------------------

class SimilarityStatus(StrEnum):
    unreviewed = "unreviewed"
    cleared = "cleared"
    flagged = "flagged"


class SimilaritySourceKind(StrEnum):
    known = "known"  # a known solution: a pair is listed when a submission resembles it
    boilerplate = "boilerplate"  # the course's starter code: its fingerprints are removed from every comparison


class SimilaritySource(Base):
    """A known solution or a course's starter code, fingerprinted once. The built-in reference is the row with no
    course (every course's known solution). Its files are kept under the data dir, never served to students."""

    __tablename__ = "similarity_sources"
    __table_args__ = (CheckConstraint(_one_of("kind", SimilaritySourceKind), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    # The uploaded archive in the content-addressed store (None for a folder, or the built-in reference).
    archive_sha256: Mapped[str | None] = mapped_column(String(64))
    # A digest of the fingerprinted sources: the built-in reference is fingerprinted again when it changes.
    digest: Mapped[str] = mapped_column(String(64))
    files: Mapped[int] = mapped_column(Integer, default=0)
    # grader.similarity.engine's compact encoding (npz of integer arrays, never pickle).
    fingerprints: Mapped[bytes] = mapped_column(LargeBinary)
    keys: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SimilarityDocument(Base):
    """A graded submission's fingerprints, kept so that a later submission is compared with it without
    fingerprinting it again (incremental comparison). `counting`: it is its student's counting submission."""

    __tablename__ = "similarity_documents"

    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"),
                                                     primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    counting: Mapped[bool] = mapped_column(Boolean, default=True)
    files: Mapped[int] = mapped_column(Integer, default=0)
    fingerprints: Mapped[bytes] = mapped_column(LargeBinary)
    keys: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprinted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: its comparison is still to run (new, or asked again by a rescan).
    compared_at: Mapped[datetime | None]


class SimilarityPair(Base):
    """Submission `a` resembles submission `b` (kind student) or known solution `b_source` (kind known): the
    scores, the file pairs and line fragments in common, and course staff's review. Never changes a score."""

    __tablename__ = "similarity_pairs"
    __table_args__ = (CheckConstraint(_one_of("status", SimilarityStatus), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    a_submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    b_submission_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"),
                                                              index=True)
    b_source_id: Mapped[int | None] = mapped_column(ForeignKey("similarity_sources.id", ondelete="CASCADE"),
                                                    index=True)
    score: Mapped[float] = mapped_column(Float)
    share_a: Mapped[float] = mapped_column(Float)
    share_b: Mapped[float] = mapped_column(Float)
    shared_lines: Mapped[int] = mapped_column(Integer)
    # [{"a_path", "b_path", "score"}] best first, and [{"a_path", "a_start", "a_end", "b_path", "b_start", "b_end"}].
    files: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fragments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=SimilarityStatus.unreviewed.value)
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(254))
    reviewed_at: Mapped[datetime | None]
    compared_at: Mapped[datetime] = mapped_column(default=utcnow)
