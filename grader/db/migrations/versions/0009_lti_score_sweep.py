"""LTI score outbox rows get a schedule of their own: when the next try is due, when a sweep last sent it,
superseded by a newer score for the same person and line item, given up after the last try.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("next_attempt_at", "enqueued_at", "superseded_at", "gave_up_at")


def upgrade() -> None:
    # Plain add_column: no batch rebuild of a table other rows may reference.
    op.add_column("lti_score_outbox", sa.Column("user_sub", sa.String(255), nullable=True))
    for name in COLUMNS:
        op.add_column("lti_score_outbox", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    # Rows written before this revision are due now: the sweeper sends what was never sent.
    op.execute("UPDATE lti_score_outbox SET next_attempt_at = created_at WHERE sent_at IS NULL")
    op.create_index(op.f("ix_lti_score_outbox_next_attempt_at"), "lti_score_outbox", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_lti_score_outbox_next_attempt_at"), table_name="lti_score_outbox")
    with op.batch_alter_table("lti_score_outbox") as batch:
        for name in (*COLUMNS, "user_sub"):
            batch.drop_column(name)
