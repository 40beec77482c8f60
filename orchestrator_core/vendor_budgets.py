"""`PostgresRequestBudget`: vendor request windows shared by every process of the product.

A connector's `Throttle` (resources/resilience.py) keeps one process under a vendor's limit;
this keeps all of them under it together, so two Dagster runs working at once never send an
Airtable base more than its 5 requests a second between them. The windows live in the
product's Postgres (migration 0009): a slot is granted, or a wait named, by one statement under
the budget's row lock, on the server's clock.

Budget keys name what the vendor counts per (e.g. `airtable <endpoint> <base id>`); they hold
no secret.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator_core.db.pool import Database


class PostgresRequestBudget:
    """Takes and stamps request slots in the shared windows; thread-safe (a small pool of its
    own, so a slot is never queued behind a workflow's long-held connection)."""

    def __init__(self, database_url: str, *, max_connections: int = 2) -> None:
        self._db = Database(database_url, max_connections=max_connections, name="vendor-budget")
        self._db.open()

    def close(self) -> None:
        self._db.close()

    def take(
        self, key: str, limits: Sequence[int], windows_ms: Sequence[int]
    ) -> tuple[int | None, float]:
        """A slot of budget `key` with at most `limits[i]` requests in any `windows_ms[i]`:
        `(slot id, 0)`, or `(None, seconds to wait)` when a window is full or the budget is
        paused."""
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT slot_id, wait_ms FROM orchestrator.take_vendor_request_slot(%s, %s, %s)",
                (key, list(limits), list(windows_ms)),
            ).fetchone()
        assert row is not None
        slot_id, wait_ms = row
        return (int(slot_id), 0.0) if slot_id is not None else (None, wait_ms / 1000)

    def stamp(self, slot_id: int) -> None:
        """The slot's request has its answer: count it from now."""
        with self._db.connection() as conn:
            conn.execute(
                "UPDATE orchestrator.vendor_request_slots"
                " SET counted_at = greatest(counted_at, clock_timestamp()) WHERE id = %s",
                (slot_id,),
            )

    def pause(self, key: str, seconds: float) -> None:
        """Hold every taker of `key`, in every process, for `seconds` from now (after a 429)."""
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO orchestrator.vendor_budgets AS b (key, paused_until)"
                " VALUES (%(key)s, clock_timestamp() + %(ms)s * interval '1 millisecond')"
                " ON CONFLICT (key) DO UPDATE"
                " SET paused_until = greatest(b.paused_until, excluded.paused_until)",
                {"key": key, "ms": round(seconds * 1000)},
            )
