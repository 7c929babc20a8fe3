"""assignments.edition: the course edition an assignment follows, when the instructor states it; submissions.edition:
the edition a grade's diagnostics were written in

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

NULL for every row already there: an assignment's edition is then seen from each package's file names, as before,
and a grade made before this revision does not say whose numbering its diagnostics use (December 2025's).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("assignments", sa.Column("edition", sa.String(16), nullable=True))
    op.add_column("submissions", sa.Column("edition", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("submissions", "edition")
    op.drop_column("assignments", "edition")
