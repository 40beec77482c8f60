"""`orchestrator db …`: schema migrations and where the database is."""

from __future__ import annotations

import click

from orchestrator_cli.context import load_settings, migrated_database
from orchestrator_core.db.migrate import current_revision, head_revision
from orchestrator_core.db.urls import redact


@click.group()
def db() -> None:
    """The product's Postgres database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (idempotent)."""
    settings = load_settings()
    with migrated_database(settings) as database:
        click.echo(
            f"database at revision {current_revision(database.url)} (head {head_revision()})"
        )


@db.command("status")
def db_status() -> None:
    """Which server is used and the schema revision, without changing anything."""
    from orchestrator_core.db.server import resolve_database

    settings = load_settings()
    database = resolve_database(settings)
    try:
        embedded = database.embedded
        where = (
            f"embedded server, data in {embedded.pgdata}, pid {embedded.get_pid()}"
            if embedded
            else "DATABASE_URL"
        )
        click.echo(f"server:   {where}")
        click.echo(f"url:      {redact(database.url)}")
        click.echo(f"revision: {current_revision(database.url)} (head {head_revision()})")
    finally:
        database.release()
