"""`Database`: the product's Postgres for one process, as a small pool of autocommit
connections. Everything a Dagster run does in the product's tables (the workflow records, the
side-effect ledger, the thread lock) goes through the run's one `Database`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool

from orchestrator_core.db.urls import libpq_url


class ConnectionSource(Protocol):
    """Where a unit of work gets its connection: a `Database` (a pooled one per block) or a
    `HeldConnection` (the same one every time)."""

    def connection(self) -> AbstractContextManager[psycopg.Connection[Any]]: ...


class HeldConnection:
    """One connection lent to a block of work (a workflow execution): every `connection()` is
    that one. Not thread-safe; for the thread that holds it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        yield self._conn


class Database:
    """Thread-safe; open it (or use it as a context manager) before use."""

    def __init__(
        self,
        database_url: str,
        *,
        max_connections: int = 4,
        wait_seconds: float = 30.0,
        name: str = "orchestrator",
    ) -> None:
        self.url = libpq_url(database_url)
        self._wait_seconds = wait_seconds
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.url,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=max_connections,
            open=False,
            check=ConnectionPool.check_connection,
            name=name,
        )

    def open(self) -> None:
        """Connect; fails within `wait_seconds` if the database is unreachable."""
        self._pool.open(wait=True, timeout=self._wait_seconds)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Database:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection for the block (open a transaction where one is
        needed)."""
        with self._pool.connection(timeout=self._wait_seconds) as conn:
            yield conn
