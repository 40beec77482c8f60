"""What every subcommand does first: settings, logging, a database, its migrations."""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from psycopg import AsyncConnection

from orchestrator_core.db.migrate import upgrade
from orchestrator_core.db.server import Database, resolve_database
from orchestrator_core.db.urls import redact
from orchestrator_core.logging import configure_logging, get_logger
from orchestrator_core.policy import LoadedPolicy, PolicyError, load_policy
from orchestrator_core.settings import Settings, get_settings

T = TypeVar("T")

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


def quiet_unless_asked(settings: Settings) -> None:
    """This process's own log lines (server start, migrations) at WARNING unless LOG_LEVEL is
    set: the console is for the summary; each service logs to its file under logs/."""
    if "LOG_LEVEL" not in os.environ:
        configure_logging("WARNING")


def load_policy_or_exit(settings: Settings) -> LoadedPolicy:
    """The policy file, validated; an invalid one stops the process with the bad key named."""
    try:
        loaded = load_policy(settings.policy_path)
    except PolicyError as exc:
        raise click.ClickException(f"invalid policy, refusing to start:\n{exc}") from None
    log.info("policy loaded", path=str(loaded.path), version=loaded.version)
    return loaded


@contextmanager
def resolved_database(settings: Settings) -> Iterator[Database]:
    """The configured or embedded database as it is (nothing migrated); released on exit."""
    try:
        database = resolve_database(settings)
    except Exception as exc:
        raise click.ClickException(f"cannot start or reach PostgreSQL: {exc}") from exc
    try:
        yield database
    finally:
        database.release()


@contextmanager
def migrated_database(settings: Settings) -> Iterator[Database]:
    """The configured or embedded database with migrations applied; released on exit."""
    with resolved_database(settings) as database:
        upgrade(database.url)
        log.info("database ready", url=redact(database.url), embedded=database.embedded is not None)
        yield database


def with_async_connection(work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
    """Run `work` on an autocommit async connection to the migrated database, as the API's
    requests do (the core's API-side records are async); quiet unless LOG_LEVEL is set."""
    settings = load_settings()
    quiet_unless_asked(settings)
    with migrated_database(settings) as database:

        async def main() -> T:
            async with await AsyncConnection.connect(database.url, autocommit=True) as conn:
                return await work(conn)

        return asyncio.run(main())


def cli_actor() -> str:
    """How the audit log names whoever runs a command: the operating-system user."""
    return f"cli:{getpass.getuser()}"


@contextmanager
def clean_exit_on_signals(
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[None]:
    """Turn these signals (SIGINT/SIGTERM unless told) into a normal exit so `finally` blocks
    and atexit handlers run.

    uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
    it found; with the default handlers the process would die before releasing the embedded
    Postgres. Ours exits with status 0 instead.
    """

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, _exit) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
