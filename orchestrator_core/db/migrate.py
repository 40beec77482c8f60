"""Schema migrations (alembic), applied by `orchestrator db upgrade` and at service start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from orchestrator_core.db.urls import sqlalchemy_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Every table of the product lives in this schema, so it can share a database with Dagster.
SCHEMA = "orchestrator"
VERSION_TABLE = "alembic_version"


def alembic_config(database_url: str) -> Config:
    """An alembic config pointing at the packaged migrations and at `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an option: option values go through ConfigParser interpolation.
    config.attributes["database_url"] = sqlalchemy_url(database_url, "psycopg")
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply pending migrations; a no-op when the schema is current. Safe to run concurrently."""
    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None before the first migration."""
    engine = create_engine(sqlalchemy_url(database_url, "psycopg"))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table_schema": SCHEMA, "version_table": VERSION_TABLE}
            )
            return context.get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(
        alembic_config("postgresql://unused/unused")
    ).get_current_head()
