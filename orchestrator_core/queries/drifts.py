"""Drifts for the drifts API: filtered lists, newest first, and one drift with its pass.
(Drifts are written by `reconciliation.store` and `reconciliation.repair`.)"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core.queries.filters import where

DRIFT_COLUMNS = (
    "id, kind, status, system, target, object_type, object_id, downstream_id, field,"
    " hubspot_value, downstream_value, cause, cause_details, first_reconciliation_id,"
    " last_reconciliation_id, repair_replay_id, repaired_by, resolution, first_seen_at,"
    " last_seen_at, resolved_at"
)


async def list_drifts(
    conn: AsyncConnection[Any],
    *,
    status: str | None = None,
    kind: str | None = None,
    cause: str | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    system: str | None = None,
    target: str | None = None,
    limit: int,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Drifts matching every filter given, newest first, ids below `before_id`."""
    condition, params = where(
        ("status = %s", status),
        ("kind = %s", kind),
        ("cause = %s", cause),
        ("object_type = %s", object_type),
        ("object_id = %s", object_id),
        ("system = %s", system),
        ("target = %s", target),
        ("id < %s", before_id),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {DRIFT_COLUMNS} FROM orchestrator.drifts"
            f" WHERE {condition} ORDER BY id DESC LIMIT %s",
            [*params, limit],
        )
        return await cur.fetchall()


async def get_drift(conn: AsyncConnection[Any], drift_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {DRIFT_COLUMNS} FROM orchestrator.drifts WHERE id = %s", (drift_id,)
        )
        return await cur.fetchone()
