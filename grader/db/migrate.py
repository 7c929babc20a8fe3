"""Apply the Alembic migrations from code: `grader db upgrade`, `grader serve` at start, and the tests.

The schema is only ever created or changed here (never by `metadata.create_all`), so every database,
SQLite or PostgreSQL, development or production, has exactly the schema the migrations say.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ..errors import GraderError
from ..settings import get_settings
from .session import make_engine

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


class SchemaOutOfDate(GraderError):
    status_code = 503
    default_detail = "the database schema does not match this version of the grader"


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    # configparser would read a "%" in a password as interpolation.
    config.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "no migrations found next to alembic.ini"
    return head


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at; None for a database that has never been migrated."""
    engine = make_engine(url or get_settings().database_url, pooled=False)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def ensure_schema(url: str | None = None) -> bool:
    """Migrate a database that has never been migrated; refuse one at an older revision.

    A fresh install must work from its first command (`grader users add`, `grader serve`); an existing
    database is only changed by an explicit `grader db upgrade`, after its owner has taken a backup.
    Returns True if it created the schema.
    """
    current = current_revision(url)
    if current is None:
        upgrade(url)
        return True
    if current != head_revision():
        raise SchemaOutOfDate(
            f"the database is at revision {current}, this grader expects {head_revision()}: "
            "run `grader db upgrade` (or a newer grader, if the database is ahead)"
        )
    return False
