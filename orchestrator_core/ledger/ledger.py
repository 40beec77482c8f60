"""The side-effect ledger: each external write of a workflow step runs at most once per key,
as far as a database and a vendor can promise that together.

Protocol of `run_once` for a key (thread_id, step, target):

1. Take a session-level Postgres advisory lock derived from the key, on a connection of the
   run's `Database` held for the whole call. Concurrent executions of the key (a Dagster retry
   racing the run it replaces, two runs of one thread) queue here; the lock is released by
   `pg_advisory_unlock`, or by Postgres when the session dies with its process.
2. Claim the row in one statement: insert it as `pending` with attempts 1, or move a `pending`
   or `failed` row back to `pending` with attempts + 1. A `succeeded` row is left alone and
   returned as it is: the write function is not called. The claim commits at once, so a
   process that dies later leaves the row `pending`.
3. With no transaction open: when the claim is not the key's first attempt (attempts > 1: an
   earlier attempt died while `pending`, or raised and may still have taken effect) and the
   caller gave a `find` function, call `find(idempotency_key)` first. It looks the vendor up for
   the object an earlier attempt made under the key; what it returns is recorded as
   `succeeded` and `write` is not called ("adopted"). When it returns None, or on a first
   attempt, call `write(idempotency_key)`. Record `succeeded` with the external id and result,
   or `failed` with a short error text and re-raise the exception (of `find` or `write`).

What each `find` looks up (the workflows pass one for every write that is not idempotent by
itself):
- a HubSpot note: the notes associated with the record (the v4 association read, then a batch
  read of their bodies), one whose `hs_note_body` carries the key (`create_note` writes it);
- a Google Drive template copy: `files.list` with `appProperties has {key='orchestrator_key'
  and value='<key>'}`, not trashed (`copy_file` sets that property on the copy);
- a Notion link block: the children of the page, a bookmark block with the link's URL;
- a Notion SOP page: the child pages of the SOP parent. A page is copied under a provisional
  title carrying the key and renamed to its title last, so only a complete copy has the title;
  one left half-copied is moved to the trash and the page is copied again.
Writes that need no `find`: Airtable upserts on a key field, HubSpot property updates and
Drive shares (writing them again changes nothing), and Google Calendar events, whose id derives
from the key (`deterministic_event_id`), so Google refuses a second one.

Exactly-once limits:
- The vendor call and the ledger update are not atomic. If the process dies (or its database
  session is lost) after the vendor accepted the write but before `succeeded` is committed, the
  row stays `pending` and the next execution writes again unless `find` finds the earlier
  object. Where neither `find` nor the vendor deduplicates, this is at-least-once.
- A `find` sees what the vendor shows at that moment: an object an earlier attempt made and
  someone since deleted or trashed is made again, and so is an SOP page whose title changed
  in between (the page or the company renamed), or a note whose reference line was edited.
- A write that raised may still have taken effect (a timeout after the vendor committed); it
  is retried the same way, `find` first.
- The lock lives as long as the database session. A server-side `idle_session_timeout` shorter
  than the longest write, or a network partition, can end the session mid-write and let a
  second execution in: keep writes bounded by connector timeouts well under those limits.
- The key names the side effect, not its content: once it succeeded, a re-execution with
  different data returns the old result. Put whatever must produce a new write into `target`.
- A replayed run (a new thread) passes `reuse_from`, the threads of the runs it replays: a
  succeeded entry there for the same step and target is copied to the new thread (with
  `reused_from`) and returned, and `write` is not called. Only writes that must not happen
  twice are reused; idempotent upserts are written again (`records/replay_writes.py`). An
  entry the replayed run left `pending` is not reused; where the key holds the thread (notes,
  links, but not the per-object SOP page and Drive copies) the replay's key differs, so its
  `find` does not see what that run may have made.
- Do not call `run_once` from inside a write function: the inner call needs a second pooled
  connection, and the same key would wait for its own lock until `lock_wait_seconds`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import class_row

from orchestrator_core import audit
from orchestrator_core.db.columns import columns_of
from orchestrator_core.db.json import jsonb
from orchestrator_core.db.locks import LockBusyError, advisory_lock
from orchestrator_core.db.pool import ConnectionSource
from orchestrator_core.ledger.keys import advisory_lock_id, check_key
from orchestrator_core.ledger.messages import describe_error
from orchestrator_core.ledger.records import LedgerEntry, WriteResult
from orchestrator_core.logging import get_logger

log = get_logger(__name__)

_COLUMNS = columns_of(LedgerEntry)
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
# The newest succeeded entry of the key's step and target in the replayed threads, copied to the
# replaying thread (nothing when the thread has its own entry for the key already).
_REUSE = f"""
INSERT INTO orchestrator.side_effects AS s
    (thread_id, step, target, status, attempts, external_id, result, reused_from)
SELECT %(thread_id)s, step, target, 'succeeded', 0, external_id, result, id
FROM orchestrator.side_effects
WHERE thread_id = ANY(%(reuse_from)s::text[]) AND step = %(step)s AND target = %(target)s
  AND status = 'succeeded'
ORDER BY id DESC
LIMIT 1
ON CONFLICT ON CONSTRAINT side_effects_key DO NOTHING
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
# Looks the vendor up for what an earlier attempt of the key wrote: its WriteResult, or None.
FindFunction = Callable[[str], WriteResult | None]


class Ledger:
    """Exactly-once-as-far-as-possible external writes, keyed by (thread_id, step, target), in
    the tables of `db` (which must be open). Thread-safe over a `Database`."""

    def __init__(self, db: ConnectionSource, *, lock_wait_seconds: float = 120.0) -> None:
        if lock_wait_seconds <= 0:
            raise ValueError("lock_wait_seconds must be positive")  # 0 means forever to Postgres
        self._db = db
        self._lock_wait_seconds = lock_wait_seconds

    def on(self, db: ConnectionSource) -> Ledger:
        """The same ledger, writing through `db` (a workflow execution's own connection)."""
        return Ledger(db, lock_wait_seconds=self._lock_wait_seconds)

    def run_once(
        self,
        *,
        thread_id: str,
        step: str,
        target: str,
        write: WriteFunction,
        find: FindFunction | None = None,
        reuse_from: Sequence[str] = (),
    ) -> LedgerEntry:
        """Run `write(idempotency_key)` unless this key already succeeded, or (with
        `reuse_from`) the same step and target succeeded in one of those threads; return the
        entry.

        On any attempt after the first, `find(idempotency_key)` runs first (when given): a
        result from it is recorded instead of writing. Exceptions from `find` and `write` are
        recorded (status failed) and re-raised unchanged.
        """
        check_key(thread_id=thread_id, step=step, target=target)
        key = {"thread_id": thread_id, "step": step, "target": target}
        with self._db.connection() as conn, self._held(conn, key):
            if reuse_from:
                with conn.transaction():
                    reused = _entry(conn, _REUSE, {**key, "reuse_from": list(reuse_from)})
                    if reused is not None:
                        _audit(conn, reused, "reused")
                if reused is not None:
                    log.info("side effect reused", **key, reused_from=reused.reused_from)
                    return reused
            claimed = _entry(conn, _CLAIM, key)
            if claimed is None:
                done = _entry(conn, _GET, key)
                assert done is not None  # the claim only skips an existing succeeded row
                log.debug("side effect already done", **key, external_id=done.external_id)
                return done
            return self._write(conn, claimed, write, find)

    @contextmanager
    def _held(self, conn: psycopg.Connection[Any], key: dict[str, str]) -> Iterator[None]:
        """The key's lock for the block: concurrent executions of one side effect queue here."""
        try:
            with advisory_lock(conn, advisory_lock_id(**key), wait_seconds=self._lock_wait_seconds):
                yield
        except LockBusyError as busy:
            raise LedgerBusyError(
                f"side effect {key['step']} → {key['target']} of {key['thread_id']} is being"
                f" written by another execution ({busy})"
            ) from None

    def get(self, *, thread_id: str, step: str, target: str) -> LedgerEntry | None:
        with self._db.connection() as conn:
            return _entry(conn, _GET, {"thread_id": thread_id, "step": step, "target": target})

    def list_for_thread(self, thread_id: str) -> list[LedgerEntry]:
        """Every side effect of a workflow thread, oldest first."""
        with (
            self._db.connection() as conn,
            conn.cursor(row_factory=class_row(LedgerEntry)) as cur,
        ):
            return cur.execute(_LIST, (thread_id,)).fetchall()

    def _write(
        self,
        conn: psycopg.Connection[Any],
        claimed: LedgerEntry,
        write: WriteFunction,
        find: FindFunction | None,
    ) -> LedgerEntry:
        key = {"thread_id": claimed.thread_id, "step": claimed.step, "target": claimed.target}
        adopted = False
        try:
            outcome: WriteResult | None = None
            if find is not None and claimed.attempts > 1:
                # An earlier attempt's outcome is unknown: look for what it may have made.
                outcome = find(claimed.idempotency_key)
                if outcome is not None and not isinstance(outcome, WriteResult):
                    raise TypeError(f"find returned {type(outcome).__name__}, not WriteResult")
                adopted = outcome is not None
            if outcome is None:
                outcome = write(claimed.idempotency_key)
                if not isinstance(outcome, WriteResult):
                    raise TypeError(f"write returned {type(outcome).__name__}, not WriteResult")
        except Exception as exc:
            error = describe_error(exc)
            try:
                with conn.transaction():
                    failed = _entry(conn, _FAIL, {"id": claimed.id, "error": error})
                    assert failed is not None
                    _audit(conn, failed, "failed")
            except psycopg.Error as db_exc:
                log.error(
                    "side effect failure not recorded", **key, db_error=describe_error(db_exc)
                )
            log.warning("side effect failed", **key, attempts=claimed.attempts, error=error)
            raise
        params = {
            "id": claimed.id,
            "external_id": outcome.external_id,
            "result": None if outcome.result is None else jsonb(outcome.result),
        }
        try:
            with conn.transaction():
                done = _entry(conn, _SUCCEED, params)
                assert done is not None
                _audit(conn, done, "adopted" if adopted else "written")
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
        log.info(
            "side effect adopted" if adopted else "side effect written",
            **key,
            external_id=done.external_id,
            attempts=done.attempts,
        )
        return done


def _audit(conn: psycopg.Connection[Any], entry: LedgerEntry, outcome: str) -> None:
    """The outcome's audit row, in the caller's transaction."""
    after: dict[str, Any] = {
        "thread_id": entry.thread_id,
        "step": entry.step,
        "target": entry.target,
        "status": entry.status,
        "attempts": entry.attempts,
    }
    if entry.status == "succeeded":
        after["external_id"] = entry.external_id
    if entry.reused_from is not None:
        after["reused_from"] = entry.reused_from
    if entry.error is not None and entry.status == "failed":
        after["error"] = entry.error
    audit.append(
        conn,
        audit.AuditEntry(
            actor=audit.SYSTEM,
            action=f"side_effect.{outcome}",
            entity_type="side_effect",
            entity_id=entry.id,
            after=after,
        ),
    )


def _entry(conn: psycopg.Connection[Any], query: str, params: dict[str, Any]) -> LedgerEntry | None:
    with conn.cursor(row_factory=class_row(LedgerEntry)) as cur:
        return cur.execute(query, params).fetchone()
