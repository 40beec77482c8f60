"""Alembic environment: online migrations only, serialised by an advisory lock."""

from __future__ import annotations

import time

from alembic import context
from sqlalchemy import Connection, create_engine, text

from orchestrator_core.db.migrate import SCHEMA, VERSION_TABLE

# Any fixed 64-bit number; two processes upgrading at once (API and Dagster starting together)
# take turns on it, and the second finds nothing left to do.
_MIGRATION_LOCK_ID = 4_815_162_342
_LOCK_POLL_SECONDS = 0.2


def _take_migration_lock(connection: Connection) -> None:
    """Wait for the migration lock holding no snapshot: a waiting `pg_advisory_lock` would,
    and 0005's CREATE INDEX CONCURRENTLY (on a connection of its own) waits for every older
    snapshot, so the holder would wait forever on the waiter. Tried, and between tries the
    transaction ends."""
    while not connection.execute(
        text("SELECT pg_try_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
    ).scalar_one():
        connection.commit()
        time.sleep(_LOCK_POLL_SECONDS)


def run_migrations_online() -> None:
    engine = create_engine(context.config.attributes["database_url"])
    with engine.connect() as connection:
        _take_migration_lock(connection)
        try:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
            connection.commit()
            context.configure(
                connection=connection,
                version_table_schema=SCHEMA,
                version_table=VERSION_TABLE,
                transaction_per_migration=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `orchestrator db upgrade`")
run_migrations_online()
