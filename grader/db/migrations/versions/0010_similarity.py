"""Similarity: known solutions and starter code (sources), submissions' fingerprints (documents), and the pairs
found with their review (docs/similarity.md). New tables only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, key: str = "id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.{key}"], name=op.f(f"fk_{table}_{column}_{target}"),
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "similarity_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("archive_sha256", sa.String(64), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("fingerprints", sa.LargeBinary(), nullable=False),
        sa.Column("keys", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(254), nullable=True),
        _timestamp("created_at", nullable=False),
        sa.CheckConstraint("kind IN ('known', 'boilerplate')", name=op.f("ck_similarity_sources_kind")),
        _fk("similarity_sources", "course_id", "courses"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_similarity_sources")),
    )
    op.create_index(op.f("ix_similarity_sources_course_id"), "similarity_sources", ["course_id"])
    op.create_table(
        "similarity_documents",
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("counting", sa.Boolean(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("fingerprints", sa.LargeBinary(), nullable=False),
        sa.Column("keys", sa.LargeBinary(), nullable=False),
        _timestamp("fingerprinted_at", nullable=False),
        _timestamp("compared_at"),
        _fk("similarity_documents", "submission_id", "submissions"),
        _fk("similarity_documents", "assignment_id", "assignments"),
        _fk("similarity_documents", "user_id", "users"),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_similarity_documents")),
    )
    op.create_index(op.f("ix_similarity_documents_assignment_id"), "similarity_documents", ["assignment_id"])
    op.create_index(op.f("ix_similarity_documents_user_id"), "similarity_documents", ["user_id"])
    op.create_table(
        "similarity_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("a_submission_id", sa.Uuid(), nullable=False),
        sa.Column("b_submission_id", sa.Uuid(), nullable=True),
        sa.Column("b_source_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("share_a", sa.Float(), nullable=False),
        sa.Column("share_b", sa.Float(), nullable=False),
        sa.Column("shared_lines", sa.Integer(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("fragments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(254), nullable=True),
        _timestamp("reviewed_at"),
        _timestamp("compared_at", nullable=False),
        sa.CheckConstraint("status IN ('unreviewed', 'cleared', 'flagged')", name=op.f("ck_similarity_pairs_status")),
        _fk("similarity_pairs", "assignment_id", "assignments"),
        _fk("similarity_pairs", "a_submission_id", "submissions"),
        _fk("similarity_pairs", "b_submission_id", "submissions"),
        _fk("similarity_pairs", "b_source_id", "similarity_sources"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_similarity_pairs")),
    )
    for column in ("assignment_id", "a_submission_id", "b_submission_id", "b_source_id"):
        op.create_index(op.f(f"ix_similarity_pairs_{column}"), "similarity_pairs", [column])


def downgrade() -> None:
    for column in ("assignment_id", "a_submission_id", "b_submission_id", "b_source_id"):
        op.drop_index(op.f(f"ix_similarity_pairs_{column}"), table_name="similarity_pairs")
    op.drop_table("similarity_pairs")
    op.drop_index(op.f("ix_similarity_documents_user_id"), table_name="similarity_documents")
    op.drop_index(op.f("ix_similarity_documents_assignment_id"), table_name="similarity_documents")
    op.drop_table("similarity_documents")
    op.drop_index(op.f("ix_similarity_sources_course_id"), table_name="similarity_sources")
    op.drop_table("similarity_sources")
