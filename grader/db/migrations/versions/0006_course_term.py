"""Running a course term: archived courses and assignments, opening dates and the due date's own time zone,
points per test or priority, staff roles (TA), roster details (name, section, SIS id, dropped), per-student
extensions, sign-in links and web sessions, and score overrides and upload file names on submissions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Rows already there keep working: new columns are NULL (or an empty JSON object for points), so existing
assignments keep the rubric's points and existing enrollments stay active.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("users", sa.Column("name", sa.String(200), nullable=True))

    op.add_column("courses", _timestamp("archived_at"))

    # Plain ADD COLUMNs, never a batch rebuild, on tables others refer to: on SQLite a rebuild drops the old
    # table, and with foreign keys on that would cascade into (or be refused by) the rows that refer to it.
    op.add_column("assignments", _timestamp("opens_at"))
    op.add_column("assignments", sa.Column("due_time_zone", sa.String(64), nullable=True))
    op.add_column("assignments", sa.Column("points", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    op.add_column("assignments", _timestamp("archived_at"))

    with op.batch_alter_table("enrollments") as batch:
        batch.drop_constraint(op.f("ck_enrollments_role"), type_="check")
        batch.create_check_constraint(op.f("ck_enrollments_role"), "role IN ('student', 'ta', 'instructor')")
        batch.add_column(sa.Column("section", sa.String(100), nullable=True))
        batch.add_column(sa.Column("sis_id", sa.String(100), nullable=True))
        batch.add_column(_timestamp("dropped_at"))

    op.add_column("submissions", sa.Column("filename", sa.String(255), nullable=True))
    op.add_column("submissions", sa.Column("override_score", sa.Float(), nullable=True))
    op.add_column("submissions", sa.Column("override_comment", sa.Text(), nullable=True))
    # Who overrode, by email rather than a foreign key: SQLite cannot add one to a table others refer to without
    # a rebuild, and the name should stay on the record even if that staff account is removed.
    op.add_column("submissions", sa.Column("override_by", sa.String(254), nullable=True))
    op.add_column("submissions", _timestamp("override_at"))

    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _timestamp("due_at", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        _timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"],
                                name=op.f("fk_extensions_assignment_id_assignments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_extensions_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["granted_by_id"], ["users.id"], name=op.f("fk_extensions_granted_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extensions")),
        sa.UniqueConstraint("assignment_id", "user_id", name=op.f("uq_extensions_assignment_id_user_id")),
    )
    op.create_table(
        "sign_in_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("expires_at", nullable=False),
        _timestamp("used_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sign_in_links_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_links_token_hash")),
    )
    op.create_index(op.f("ix_sign_in_links_user_id"), "sign_in_links", ["user_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("expires_at", nullable=False),
        _timestamp("last_seen_at"),
        _timestamp("revoked_at"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index(op.f("ix_sign_in_links_user_id"), table_name="sign_in_links")
    op.drop_table("sign_in_links")
    op.drop_table("extensions")
    for column in ("override_at", "override_by", "override_comment", "override_score", "filename"):
        op.drop_column("submissions", column)
    with op.batch_alter_table("enrollments") as batch:
        for column in ("dropped_at", "sis_id", "section"):
            batch.drop_column(column)
        batch.drop_constraint(op.f("ck_enrollments_role"), type_="check")
        batch.create_check_constraint(op.f("ck_enrollments_role"), "role IN ('student', 'instructor')")
    for column in ("archived_at", "points", "due_time_zone", "opens_at"):
        op.drop_column("assignments", column)
    op.drop_column("courses", "archived_at")
    op.drop_column("users", "name")
