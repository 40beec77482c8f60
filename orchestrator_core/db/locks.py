"""Session-level Postgres advisory locks with a bounded wait.

A session lock outlives the transaction that took it: it is held for a whole block of work (a
vendor write, a workflow thread's execution) on one connection, and released at the end, or by
Postgres when the session dies with its process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg


class LockBusyError(Exception):
    """Another session held the lock for longer than the wait allowed."""


def lock_key(namespace: str, name: bytes | str) -> int:
    """A signed 64-bit advisory lock key for `name`; the namespace keeps locks of different
    kinds from ever colliding."""
    raw = name.encode() if isinstance(name, str) else name
    digest = hashlib.sha256(namespace.encode() + b"\x1f" + raw).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def advisory_lock(
    conn: psycopg.Connection[Any], key: int, *, wait_seconds: float
) -> Iterator[None]:
    """Hold the session lock `key` on `conn` (autocommit) for the block; `LockBusyError` when it
    is not granted within `wait_seconds`."""
    if wait_seconds <= 0:
        raise ValueError("wait_seconds must be positive")  # 0 means forever to Postgres
    timeout = f"{max(1, round(wait_seconds * 1000))}ms"
    try:
        with conn.transaction():
            # SET LOCAL: the bound applies to this wait only; the lock outlives the commit.
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
            conn.execute("SELECT pg_advisory_lock(%s::bigint)", (key,))
    except psycopg.errors.LockNotAvailable:
        raise LockBusyError(f"waited {wait_seconds:g} s") from None
    except BaseException:
        # Interrupted around the grant (a session lock survives the rollback): only ending the
        # session releases it for sure.
        conn.close()
        raise
    try:
        yield
    finally:
        try:
            conn.execute("SELECT pg_advisory_unlock(%s::bigint)", (key,))
        except psycopg.Error:
            # Never hand a connection that may still hold the lock back to a pool: closing it
            # ends the session, and Postgres releases the lock.
            conn.close()
