"""submissions.compile_errors: the package's files that do not compile, found when it was handed in

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Rows already there get [] (the server default NOT NULL needs): nothing was checked when they were handed in.
The worker writes the column again when it grades, so a regrade of an old submission fills it in.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("compile_errors", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    # Not batch mode, as in 0002: SQLite >= 3.35 drops a plain column in place, without rebuilding the table.
    op.drop_column("submissions", "compile_errors")
