"""The migrations build exactly the schema the models describe, and undo it, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from grader.db import migrate
from grader.db.models import Base, Submission
from grader.db.session import make_engine

TABLES = {"users", "api_tokens", "courses", "enrollments", "assignments", "submissions", "test_results", "regrades",
          "workers", "extensions", "sign_in_links", "web_sessions",
          "webhook_endpoints", "lms_events", "webhook_deliveries", "webhook_attempts",  # 0007: webhooks to the LMS
          # LTI 1.3 (migration 0008)
          "lti_platforms", "lti_keys", "lti_login_states", "lti_identities", "lti_contexts", "lti_line_items",
          "lti_score_outbox",  # 0009 adds columns to it
          "similarity_sources", "similarity_documents", "similarity_pairs"}  # 0010: similarity


def _tables(url: str) -> set[str]:
    engine = make_engine(url, pooled=False)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _differences(url: str) -> list[object]:
    engine = make_engine(url, pooled=False)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_from_empty_builds_the_models_schema(empty_database_url: str) -> None:
    assert migrate.current_revision(empty_database_url) is None
    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    assert _tables(empty_database_url) == TABLES | {"alembic_version"}
    # Autogenerate finds nothing to add, drop or alter: the hand-written migration and the models agree
    # (columns, types, nullability, indexes, unique constraints, foreign keys).
    assert _differences(empty_database_url) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_again_works(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    assert migrate.current_revision(empty_database_url) is None
    assert _tables(empty_database_url) <= {"alembic_version"}
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) == TABLES | {"alembic_version"}


def test_ensure_schema_creates_a_fresh_database_and_refuses_a_mismatched_one(empty_database_url: str) -> None:
    assert migrate.ensure_schema(empty_database_url) is True
    assert migrate.ensure_schema(empty_database_url) is False
    engine = make_engine(empty_database_url, pooled=False)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    finally:
        engine.dispose()
    with pytest.raises(migrate.SchemaOutOfDate, match="grader db upgrade"):
        migrate.ensure_schema(empty_database_url)


def test_the_shared_database_is_at_head(database_url: str) -> None:
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_the_migrations_ship_inside_the_package() -> None:
    # alembic.ini sits in grader/db and points at grader/db/migrations: an installed wheel needs no checkout.
    assert migrate.ALEMBIC_INI.is_file()
    script_location = migrate.alembic_config("sqlite://").get_main_option("script_location")
    assert script_location is not None
    assert (migrate.ALEMBIC_INI.parent / "migrations" / "env.py").samefile(f"{script_location}/env.py")


def test_submissions_from_before_0003_get_no_compile_errors_and_0003_undoes(empty_database_url: str) -> None:
    url = empty_database_url
    migrate.upgrade(url, "0002")
    engine = make_engine(url, pooled=False)
    key = uuid.uuid4()
    at = "2026-01-01 00:00:00.000000"
    try:
        with engine.begin() as connection:
            connection.execute(text(f"INSERT INTO users (id, email, role, created_at) "
                                    f"VALUES (1, 'a@example.org', 'student', '{at}')"))
            connection.execute(text(f"INSERT INTO courses (id, slug, name, open_to_all_students, created_at) "
                                    f"VALUES (1, 'c', 'C', :no, '{at}')"), {"no": False})
            connection.execute(text(f"INSERT INTO assignments (id, course_id, slug, title, suites, rubric_visibility, "
                                    f"late_policy, score_policy, created_at) "
                                    f"VALUES (1, 1, 'a', 'A', '[]', '{{}}', '{{}}', 'best', '{at}')"))
            # SQLAlchemy's Uuid is a native uuid on PostgreSQL and 32 hex characters on SQLite.
            connection.execute(text(f"INSERT INTO submissions (id, assignment_id, user_id, archive_sha256, status, "
                                    f"priorities, attempt, created_at) "
                                    f"VALUES (:id, 1, 1, :sha, 'graded', '[]', 1, '{at}')"),
                               {"id": str(key) if engine.dialect.name == "postgresql" else key.hex, "sha": "0" * 64})
        migrate.upgrade(url)
        with Session(engine) as session:
            row = session.get(Submission, key)
            assert row is not None and row.compile_errors == []
        migrate.downgrade(url, "0002")
        assert "compile_errors" not in {c["name"] for c in inspect(engine).get_columns("submissions")}
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM submissions")).scalar() == 1
    finally:
        engine.dispose()
