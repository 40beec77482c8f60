"""LangGraph's Postgres checkpointer on the product's database (tables in schema `langgraph`),
on one connection pool per process."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from orchestrator_core.db.urls import langgraph_url


class Checkpoints:
    """The checkpoint tables behind a pool of connections set up as
    `PostgresSaver.from_conn_string` sets its one (autocommit, dict rows, no prepared
    statements). Their tables exist already: migration 0005 made them, so `setup()` is never
    called here. Open it (or use it as a context manager) before use."""

    def __init__(self, database_url: str, *, max_connections: int = 4) -> None:
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            langgraph_url(database_url),
            connection_class=psycopg.Connection[dict[str, Any]],
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            min_size=1,
            max_size=max_connections,
            open=False,
            check=ConnectionPool.check_connection,
            name="checkpoints",
        )

    def open(self, timeout: float = 30.0) -> None:
        self._pool.open(wait=True, timeout=timeout)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Checkpoints:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def saver(self) -> PostgresSaver:
        """A checkpointer on the pool. One per thread: a `PostgresSaver` serializes its own
        calls behind a lock, so threads sharing one would queue for it."""
        return PostgresSaver(self._pool)
