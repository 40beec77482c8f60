"""A short-lived database connection for one sensor tick."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from orchestrator_defs.runtime.database import process_database_url

# A tick must never hang on the database: fail fast, the next tick tries again.
_CONNECT_TIMEOUT_SECONDS = 10
_STATEMENT_TIMEOUT_MS = 20_000


@contextmanager
def tick_connection() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(
        process_database_url(),
        autocommit=True,
        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        options=f"-c statement_timeout={_STATEMENT_TIMEOUT_MS}",
    ) as conn:
        yield conn
