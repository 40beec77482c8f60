"""What every subcommand does first: settings, logging, a database, its migrations."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from orchestrator_core.db.migrate import upgrade
from orchestrator_core.db.server import Database, resolve_database
from orchestrator_core.db.urls import redact
from orchestrator_core.logging import configure_logging, get_logger
from orchestrator_core.settings import Settings, get_settings

log = get_logger(__name__)


def load_settings() -> Settings:
    """Settings from the environment; invalid values stop the command with the field named."""
    from pydantic import ValidationError

    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise click.ClickException(f"invalid configuration: {problems}") from None
    configure_logging(settings.log_level)
    return settings


@contextmanager
def migrated_database(settings: Settings) -> Iterator[Database]:
    """The configured or embedded database with migrations applied; released on exit."""
    try:
        database = resolve_database(settings)
    except Exception as exc:
        raise click.ClickException(f"cannot start or reach PostgreSQL: {exc}") from exc
    try:
        upgrade(database.url)
        log.info("database ready", url=redact(database.url), embedded=database.embedded is not None)
        yield database
    finally:
        database.release()


def echo_err(message: str) -> None:
    click.echo(message, file=sys.stderr)
