"""LangGraph's Postgres checkpointer on the product's database (tables in schema `langgraph`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row

from orchestrator_core.db.urls import langgraph_url


@contextmanager
def postgres_checkpointer(database_url: str) -> Iterator[PostgresSaver]:
    """A checkpointer on its own connection, set up as `PostgresSaver.from_conn_string` does
    (autocommit, dict rows, no prepared statements). Its tables exist already: migration 0005
    ran `setup()` once, so it is never called here."""
    conn: psycopg.Connection[dict[str, Any]] = psycopg.connect(
        langgraph_url(database_url), autocommit=True, prepare_threshold=0, row_factory=dict_row
    )
    try:
        yield PostgresSaver(conn)
    finally:
        conn.close()
