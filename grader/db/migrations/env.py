"""Alembic's entry point: runs the migrations against Settings.database_url (or the URL/connection that
grader.db.migrate hands over), with our engine setup so SQLite has foreign keys on and transactional DDL."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from grader.db.models import Base
from grader.db.session import make_engine
from grader.settings import get_settings

config = context.config

# Only when run by the `alembic` command itself: inside `grader` or pytest, fileConfig would replace the
# process's logging setup (and silence every existing logger).
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def _configure(**options: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table, so later migrations work on both.
        render_as_batch=True,
        **options,  # type: ignore[arg-type]
    )


def _run(connection: Connection) -> None:
    # All pending revisions in one transaction: a failed upgrade leaves the schema as it was. SQLite can do
    # this too because make_engine lets SQLAlchemy issue BEGIN itself (pysqlite would commit before DDL).
    _configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url(), pooled=False)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
