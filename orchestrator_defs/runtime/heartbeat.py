"""The run worker's heartbeat: while a Dagster run works its workflow runs, a thread stamps
their attempts every `every` seconds (`orchestrator_core.records.heartbeats`). A worker killed
with -9 stops beating at once; the watchdog sensor (`sensors/watchdog.py`) notices.

The thread has a connection of its own, not one of the run's pool: a batch that holds every
pooled connection for minutes must not look dead."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from orchestrator_core.db.urls import libpq_url
from orchestrator_core.logging import get_logger
from orchestrator_core.records.heartbeats import beat

log = get_logger(__name__)
_CONNECT_TIMEOUT_SECONDS = 10


@contextmanager
def run_heartbeat(database_url: str, dagster_run_id: str, *, every: float) -> Iterator[None]:
    """Beat for the block. A beat that fails (the database away for a moment) is logged and
    tried again, on a new connection, at the next one: the work decides what a lost database
    means for it."""
    stop = threading.Event()

    def beating() -> None:
        conn: psycopg.Connection[Any] | None = None
        while not stop.wait(every):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(
                        libpq_url(database_url),
                        autocommit=True,
                        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
                    )
                beat(conn, dagster_run_id)
            except psycopg.Error as exc:
                log.warning("run heartbeat not recorded", error=type(exc).__name__)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    thread = threading.Thread(target=beating, name=f"heartbeat-{dagster_run_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + _CONNECT_TIMEOUT_SECONDS)
