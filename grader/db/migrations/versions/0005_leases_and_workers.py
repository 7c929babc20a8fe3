"""Leases on running gradings (submissions.claimed_by, heartbeat_at), why a queued one is delayed
(submissions.delayed_reason), and the workers table (liveness and sandbox health, read by /healthz and /metrics)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Rows already there get NULLs: a running row without a heartbeat is judged by its started_at, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("submissions", sa.Column("claimed_by", sa.String(200), nullable=True))
    op.add_column("submissions", _timestamp("heartbeat_at"))
    op.add_column("submissions", sa.Column("delayed_reason", sa.Text(), nullable=True))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        _timestamp("started_at", nullable=False),
        _timestamp("heartbeat_at", nullable=False),
        sa.CheckConstraint("state IN ('ready', 'sandbox_unhealthy', 'stopping')", name=op.f("ck_workers_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_index(op.f("ix_workers_heartbeat_at"), "workers", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_workers_heartbeat_at"), table_name="workers")
    op.drop_table("workers")
    op.drop_column("submissions", "delayed_reason")
    op.drop_column("submissions", "heartbeat_at")
    op.drop_column("submissions", "claimed_by")
