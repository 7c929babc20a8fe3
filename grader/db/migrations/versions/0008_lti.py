"""LTI 1.3 tool: registered platforms, the tool's own keys, OIDC logins in flight, platform users' `sub`s, the
LMS courses (contexts) that launched and their roster service, the AGS line items assignments publish to, and the
outbox of scores waiting to be sent.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Only new tables: nothing existing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.Integer(), nullable=False)


def _platform_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["platform_id"], ["lti_platforms.id"],
                                   name=op.f(f"fk_{table}_platform_id_lti_platforms"), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "lti_platforms", _id(),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("deployment_ids", sa.JSON(), nullable=False),
        sa.Column("jwks_url", sa.String(1000), nullable=False),
        sa.Column("auth_url", sa.String(1000), nullable=False),
        sa.Column("token_url", sa.String(1000), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        _timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_lti_platforms_course_id_courses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_platforms")),
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_lti_platforms_issuer_client_id")),
    )
    op.create_table(
        "lti_keys", _id(),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("retired_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_lti_keys_kid")),
    )
    op.create_table(
        "lti_login_states", _id(),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("expires_at", nullable=False),
        _timestamp("used_at"),
        _platform_fk("lti_login_states"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_login_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_lti_login_states_state_hash")),
        sa.UniqueConstraint("nonce", name=op.f("uq_lti_login_states_nonce")),
    )
    op.create_index(op.f("ix_lti_login_states_platform_id"), "lti_login_states", ["platform_id"])
    op.create_table(
        "lti_identities", _id(),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("sub", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _timestamp("created_at", nullable=False),
        _platform_fk("lti_identities"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_lti_identities_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_identities")),
        sa.UniqueConstraint("platform_id", "sub", name=op.f("uq_lti_identities_platform_id_sub")),
    )
    op.create_index(op.f("ix_lti_identities_user_id"), "lti_identities", ["user_id"])
    op.create_table(
        "lti_contexts", _id(),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.String(255), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("memberships_url", sa.String(1000), nullable=True),
        _timestamp("updated_at", nullable=False),
        _platform_fk("lti_contexts"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_lti_contexts_course_id_courses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_contexts")),
        sa.UniqueConstraint("platform_id", "context_id", name=op.f("uq_lti_contexts_platform_id_context_id")),
    )
    op.create_index(op.f("ix_lti_contexts_course_id"), "lti_contexts", ["course_id"])
    op.create_table(
        "lti_line_items", _id(),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("lineitem_url", sa.String(1000), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _timestamp("updated_at", nullable=False),
        _platform_fk("lti_line_items"),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"],
                                name=op.f("fk_lti_line_items_assignment_id_assignments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_line_items")),
        sa.UniqueConstraint("platform_id", "assignment_id", name=op.f("uq_lti_line_items_platform_id_assignment_id")),
    )
    op.create_index(op.f("ix_lti_line_items_assignment_id"), "lti_line_items", ["assignment_id"])
    op.create_table(
        "lti_score_outbox", _id(),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("lineitem_url", sa.String(1000), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("sent_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _platform_fk("lti_score_outbox"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_score_outbox")),
    )
    op.create_index(op.f("ix_lti_score_outbox_platform_id"), "lti_score_outbox", ["platform_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_lti_score_outbox_platform_id"), table_name="lti_score_outbox")
    op.drop_table("lti_score_outbox")
    op.drop_index(op.f("ix_lti_line_items_assignment_id"), table_name="lti_line_items")
    op.drop_table("lti_line_items")
    op.drop_index(op.f("ix_lti_contexts_course_id"), table_name="lti_contexts")
    op.drop_table("lti_contexts")
    op.drop_index(op.f("ix_lti_identities_user_id"), table_name="lti_identities")
    op.drop_table("lti_identities")
    op.drop_index(op.f("ix_lti_login_states_platform_id"), table_name="lti_login_states")
    op.drop_table("lti_login_states")
    op.drop_table("lti_keys")
    op.drop_table("lti_platforms")
