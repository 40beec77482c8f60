"""The side-effect ledger: each external write of a workflow step runs at most once per key,
as far as a database and a vendor can promise that together.

Protocol of `run_once` for a key (thread_id, step, target):

1. Take a session-level Postgres advisory lock derived from the key, on a pooled autocommit
   connection held for the whole call. Concurrent executions of the key (a Dagster retry racing
   the run it replaces, two runs of one thread) queue here; the lock is released by
   `pg_advisory_unlock`, or by Postgres when the session dies with its process.
2. Claim the row in one statement: insert it as `pending` with attempts 1, or move a `pending`
   or `failed` row back to `pending` with attempts + 1. A `succeeded` row is left alone and
   returned as it is: the write function is not called.
3. Call `write(idempotency_key)` with no transaction open, then record `succeeded` with the
   external id and result, or `failed` with a short error text and re-raise the exception.

Exactly-once limits:
- The vendor call and the ledger update are not atomic. If the process dies (or its database
  session is lost) after the vendor accepted the write but before `succeeded` is committed, the
  row stays `pending` and the next execution writes again. It passes the same idempotency key,
  so the write is deduplicated only where the connector makes the vendor honour it (a
  deterministic Google Calendar event id, an Airtable upsert on a key field, a search for a
  marker before creating a Notion page or HubSpot note). Elsewhere this is at-least-once.
- A write that raised may still have taken effect (a timeout after the vendor committed); it
  is retried the same way.
- The lock lives as long as the database session. A server-side `idle_session_timeout` shorter
  than the longest write, or a network partition, can end the session mid-write and let a
  second execution in: keep writes bounded by connector timeouts well under those limits.
- The key names the side effect, not its content: once it succeeded, a re-execution with
  different data returns the old result. Put whatever must produce a new write into `target`.
- Do not call `run_once` from inside a write function: the inner call needs a second pooled
  connection, and the same key would wait for its own lock until `lock_wait_seconds`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from orchestrator_core.db.urls import libpq_url
from orchestrator_core.ledger.keys import advisory_lock_id, check_key
from orchestrator_core.ledger.messages import describe_error
from orchestrator_core.ledger.records import LedgerEntry, WriteResult
from orchestrator_core.logging import get_logger

log = get_logger(__name__)

_COLUMNS = (
    "id, thread_id, step, target, status, external_id, result, error, attempts,"
    " created_at, updated_at"
)
_CLAIM = f"""
INSERT INTO orchestrator.side_effects AS s (thread_id, step, target, status, attempts)
VALUES (%(thread_id)s, %(step)s, %(target)s, 'pending', 1)
ON CONFLICT ON CONSTRAINT side_effects_key DO UPDATE
    SET status = 'pending', attempts = s.attempts + 1, updated_at = now()
    WHERE s.status <> 'succeeded'
RETURNING {_COLUMNS}
"""
_GET = f"""
SELECT {_COLUMNS} FROM orchestrator.side_effects
WHERE thread_id = %(thread_id)s AND step = %(step)s AND target = %(target)s
"""
_SUCCEED = f"""
UPDATE orchestrator.side_effects
SET status = 'succeeded', external_id = %(external_id)s, result = %(result)s, error = NULL,
    updated_at = now()
WHERE id = %(id)s
RETURNING {_COLUMNS}
"""
_FAIL = f"""
UPDATE orchestrator.side_effects SET status = 'failed', error = %(error)s, updated_at = now()
WHERE id = %(id)s
RETURNING {_COLUMNS}
"""
_LIST = f"SELECT {_COLUMNS} FROM orchestrator.side_effects WHERE thread_id = %s ORDER BY id"


class LedgerError(Exception):
    """The ledger could not do its part (the write function's own errors pass unchanged)."""


class LedgerBusyError(LedgerError):
    """Another execution held the key for longer than `lock_wait_seconds`."""


class LedgerNotRecordedError(LedgerError):
    """The write succeeded but recording it failed; a retry repeats it with the same
    idempotency key."""


WriteFunction = Callable[[str], WriteResult]


class Ledger:
    """Exactly-once-as-far-as-possible external writes, keyed by (thread_id, step, target).

    Thread-safe. Open it (or use it as a context manager) before use; it owns a small pool.
    """

    def __init__(
        self,
        database_url: str,
        *,
        max_connections: int = 4,
        lock_wait_seconds: float = 120.0,
        pool_wait_seconds: float = 30.0,
    ) -> None:
        if lock_wait_seconds <= 0:
            raise ValueError("lock_wait_seconds must be positive")  # 0 means forever to Postgres
        self._lock_timeout = f"{max(1, round(lock_wait_seconds * 1000))}ms"
        self._pool_wait_seconds = pool_wait_seconds
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            libpq_url(database_url),
            connection_class=psycopg.Connection[dict[str, Any]],
            kwargs={"autocommit": True, "row_factory": dict_row},
            min_size=1,
            max_size=max_connections,
            open=False,
            check=ConnectionPool.check_connection,
            name="side-effect-ledger",
        )

    def open(self) -> None:
        """Connect; fails within `pool_wait_seconds` if the database is unreachable."""
        self._pool.open(wait=True, timeout=self._pool_wait_seconds)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Ledger:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def run_once(
        self, *, thread_id: str, step: str, target: str, write: WriteFunction
    ) -> LedgerEntry:
        """Run `write(idempotency_key)` unless this key already succeeded; return the entry.

        Exceptions from `write` are recorded (status failed) and re-raised unchanged.
        """
        check_key(thread_id=thread_id, step=step, target=target)
        key = {"thread_id": thread_id, "step": step, "target": target}
        lock_id = advisory_lock_id(**key)
        with (
            self._pool.connection(timeout=self._pool_wait_seconds) as conn,
            self._locked(conn, lock_id, key),
        ):
            claimed = _entry(conn.execute(_CLAIM, key).fetchone())
            if claimed is None:
                done = _entry(conn.execute(_GET, key).fetchone())
                assert done is not None  # the claim only skips an existing succeeded row
                log.debug("side effect already done", **key, external_id=done.external_id)
                return done
            return self._write(conn, claimed, write)

    def get(self, *, thread_id: str, step: str, target: str) -> LedgerEntry | None:
        key = {"thread_id": thread_id, "step": step, "target": target}
        with self._pool.connection(timeout=self._pool_wait_seconds) as conn:
            return _entry(conn.execute(_GET, key).fetchone())

    def list_for_thread(self, thread_id: str) -> list[LedgerEntry]:
        """Every side effect of a workflow thread, oldest first."""
        with self._pool.connection(timeout=self._pool_wait_seconds) as conn:
            rows = conn.execute(_LIST, (thread_id,)).fetchall()
        return [entry for entry in map(_entry, rows) if entry is not None]

    def _write(
        self, conn: psycopg.Connection[dict[str, Any]], claimed: LedgerEntry, write: WriteFunction
    ) -> LedgerEntry:
        key = {"thread_id": claimed.thread_id, "step": claimed.step, "target": claimed.target}
        try:
            outcome = write(claimed.idempotency_key)
            if not isinstance(outcome, WriteResult):
                raise TypeError(f"write returned {type(outcome).__name__}, not WriteResult")
        except Exception as exc:
            error = describe_error(exc)
            try:
                conn.execute(_FAIL, {"id": claimed.id, "error": error})
            except psycopg.Error as db_exc:
                log.error(
                    "side effect failure not recorded", **key, db_error=describe_error(db_exc)
                )
            log.warning("side effect failed", **key, attempts=claimed.attempts, error=error)
            raise
        params = {"id": claimed.id, "external_id": outcome.external_id, "result": _jsonb(outcome)}
        try:
            done = _entry(conn.execute(_SUCCEED, params).fetchone())
        except psycopg.Error as exc:
            # The operator needs the vendor id to reconcile by hand if the retry cannot dedup.
            log.error(
                "side effect succeeded but not recorded",
                **key,
                external_id=outcome.external_id,
                db_error=describe_error(exc),
            )
            raise LedgerNotRecordedError(
                f"{claimed.step} → {claimed.target}: written (external id"
                f" {outcome.external_id}) but not recorded: {describe_error(exc)}"
            ) from exc
        assert done is not None
        log.info("side effect written", **key, external_id=done.external_id, attempts=done.attempts)
        return done

    @contextmanager
    def _locked(
        self, conn: psycopg.Connection[dict[str, Any]], lock_id: int, key: dict[str, str]
    ) -> Iterator[None]:
        try:
            with conn.transaction():
                # SET LOCAL: the bound applies to this wait only, the lock outlives the commit.
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (self._lock_timeout,))
                conn.execute("SELECT pg_advisory_lock(%s::bigint)", (lock_id,))
        except psycopg.errors.LockNotAvailable:
            raise LedgerBusyError(
                f"side effect {key['step']} → {key['target']} of {key['thread_id']} is being"
                f" written by another execution (waited {self._lock_timeout})"
            ) from None
        except BaseException:
            # Interrupted around the grant (a session lock survives the rollback): only ending
            # the session releases it for sure.
            conn.close()
            raise
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s::bigint)", (lock_id,))
            except psycopg.Error:
                # Never hand a connection that may still hold the lock back to the pool:
                # closing it ends the session, and Postgres releases the lock.
                conn.close()


def _jsonb(outcome: WriteResult) -> Jsonb | None:
    if outcome.result is None:
        return None
    return Jsonb(outcome.result, dumps=lambda value: orjson.dumps(value).decode())


def _entry(row: dict[str, Any] | None) -> LedgerEntry | None:
    return None if row is None else LedgerEntry(**row)
