"""`VendorCallCounts`: the vendor requests, retries and failures a process's connectors made,
added to the totals every process shares in Postgres (`orchestrator.vendor_call_counts`,
migration 0015), where the API's /metrics reads them whatever process did the work.

The connectors' `ResilientCaller` tells its observer of each request (`resources.resilience.
CallObserver`); this is that observer for a Dagster run. Counting is in memory (a lock and a
dict: nothing on a request's path waits for the database); a background thread adds the counts
to the table every `flush_every_seconds`, and `close` adds what is left. A flush that fails
keeps its counts for the next one. A worker killed outright loses at most the last interval's.
"""

from __future__ import annotations

import threading
from collections import Counter

from orchestrator_core.db.pool import ConnectionSource
from orchestrator_core.logging import get_logger

log = get_logger(__name__)

# The events a connector reports (`resources.resilience.CALL_EVENTS`), as the table's CHECK.
VENDOR_CALL_EVENTS = frozenset(
    {"request", "retry", "rate_limited", "transient_error", "permanent_error"}
)

_ADD = """
INSERT INTO orchestrator.vendor_call_counts AS c (vendor, event, count)
SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[])
ON CONFLICT (vendor, event) DO UPDATE SET count = c.count + EXCLUDED.count, updated_at = now()
"""


class VendorCallCounts:
    """Counts per (vendor, event) in this process, flushed to Postgres; thread-safe."""

    def __init__(self, db: ConnectionSource, *, flush_every_seconds: float = 10.0) -> None:
        self._db = db
        self._every = flush_every_seconds
        self._lock = threading.Lock()
        self._pending: Counter[tuple[str, str]] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, vendor: str, event: str) -> None:
        """One event of a vendor call (the `CallObserver` method): counted, not written."""
        if event not in VENDOR_CALL_EVENTS:
            return
        with self._lock:
            self._pending[(vendor, event)] += 1

    def pending(self) -> dict[tuple[str, str], int]:
        """What is counted and not flushed yet."""
        with self._lock:
            return dict(self._pending)

    def flush(self) -> None:
        """Add the counts to the shared totals (one statement); kept on failure."""
        with self._lock:
            batch, self._pending = self._pending, Counter()
        if not batch:
            return
        keys = sorted(batch)  # one order for every process: no deadlock between flushes
        try:
            with self._db.connection() as conn:
                conn.execute(
                    _ADD,
                    ([v for v, _ in keys], [e for _, e in keys], [batch[k] for k in keys]),
                )
        except Exception as exc:  # counts must never fail a workflow
            log.warning("vendor call counts not flushed", error=type(exc).__name__)
            with self._lock:
                self._pending.update(batch)

    def start(self) -> None:
        """Flush every `flush_every_seconds` on a daemon thread until `close`."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="vendor-call-counts", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop the thread and flush what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._every + 5)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.flush()
