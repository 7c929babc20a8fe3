"""submissions.enqueued_at: when the grading task was handed to the broker (NULL: not yet, for the sweeper)

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

No backfill: existing rows stay NULL. The sweeper only sends queued ones, so a row stranded by the old code
(its enqueue raised after the commit) is sent at last, and one that does have a message waiting gets a second
one, which the task's claim turns into a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite it would rebuild the table, and dropping the old one with foreign keys on
    # cascades to test_results and regrades. SQLite >= 3.35 drops a plain column in place.
    op.drop_column("submissions", "enqueued_at")
