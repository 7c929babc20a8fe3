"""initial schema: users, tokens, courses, enrollments, assignments, submissions, test results, regrades

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand to match grader/db/models.py; tests/grader/db/test_migrations.py compares the two.
Timestamps are timezone-aware (timestamptz on PostgreSQL); enumerations are strings with CHECK constraints.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.CheckConstraint("role IN ('student', 'instructor', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        _timestamp("created_at", nullable=False),
        _timestamp("last_used_at"),
        _timestamp("revoked_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_index(op.f("ix_api_tokens_prefix"), "api_tokens", ["prefix"])

    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("open_to_all_students", sa.Boolean(), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("slug", name=op.f("uq_courses_slug")),
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.CheckConstraint("role IN ('student', 'instructor')", name=op.f("ck_enrollments_role")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_enrollments_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_enrollments_course_id_courses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("user_id", "course_id", name=op.f("uq_enrollments_user_id_course_id")),
    )
    op.create_index(op.f("ix_enrollments_course_id"), "enrollments", ["course_id"])

    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("suites", sa.JSON(), nullable=False),
        sa.Column("rubric_visibility", sa.JSON(), nullable=False),
        _timestamp("due_at"),
        sa.Column("late_policy", sa.JSON(), nullable=False),
        sa.Column("max_submissions_per_hour", sa.Integer(), nullable=True),
        sa.Column("score_policy", sa.String(8), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.CheckConstraint("score_policy IN ('best', 'latest')", name=op.f("ck_assignments_score_policy")),
        sa.CheckConstraint("max_submissions_per_hour IS NULL OR max_submissions_per_hour > 0",
                           name=op.f("ck_assignments_max_submissions_per_hour")),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_assignments_course_id_courses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("course_id", "slug", name=op.f("uq_assignments_course_id_slug")),
    )

    op.create_table(
        "submissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("archive_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=True),
        sa.Column("priorities", sa.JSON(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("suite_version", sa.String(64), nullable=True),
        sa.Column("sandbox_image", sa.String(200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _timestamp("created_at", nullable=False),
        _timestamp("started_at"),
        _timestamp("graded_at"),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'running', 'graded', 'failed')", name=op.f("ck_submissions_status")),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"],
                                name=op.f("fk_submissions_assignment_id_assignments"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_submissions_user_id_users"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    op.create_index("ix_submissions_assignment_id_user_id_created_at", "submissions",
                    ["assignment_id", "user_id", "created_at"])
    op.create_index(op.f("ix_submissions_user_id"), "submissions", ["user_id"])
    op.create_index(op.f("ix_submissions_status"), "submissions", ["status"])

    op.create_table(
        "test_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("suite", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("counts_toward_grade", sa.Boolean(), nullable=False),
        sa.Column("module", sa.String(100), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("traceback", sa.JSON(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.CheckConstraint("outcome IN ('passed', 'failed', 'error', 'skipped', 'timeout')",
                           name=op.f("ck_test_results_outcome")),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f("fk_test_results_submission_id_submissions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_results")),
        sa.UniqueConstraint("submission_id", "suite", "name", name=op.f("uq_test_results_submission_id_suite_name")),
    )

    op.create_table(
        "regrades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("batch", sa.Uuid(), nullable=False),
        sa.Column("old_score", sa.Float(), nullable=True),
        sa.Column("old_max_score", sa.Float(), nullable=True),
        sa.Column("old_suite_version", sa.String(64), nullable=True),
        sa.Column("old_sandbox_image", sa.String(200), nullable=True),
        sa.Column("new_score", sa.Float(), nullable=True),
        sa.Column("new_max_score", sa.Float(), nullable=True),
        _timestamp("created_at", nullable=False),
        _timestamp("finished_at"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f("fk_regrades_submission_id_submissions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], name=op.f("fk_regrades_requested_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regrades")),
    )
    op.create_index(op.f("ix_regrades_submission_id"), "regrades", ["submission_id"])
    op.create_index(op.f("ix_regrades_requested_by_id"), "regrades", ["requested_by_id"])
    op.create_index(op.f("ix_regrades_batch"), "regrades", ["batch"])


def downgrade() -> None:
    # Reverse order of creation, so no table is dropped while another still references it.
    for table in ("regrades", "test_results", "submissions", "assignments", "enrollments", "courses",
                  "api_tokens", "users"):
        op.drop_table(table)
