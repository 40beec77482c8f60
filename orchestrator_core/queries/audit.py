"""The audit log for `GET /api/audit`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core.queries.filters import where

AUDIT_COLUMNS = (
    "seq, id, occurred_at, actor, action, entity_type, entity_id, before, after,"
    " correlation_id, policy_version, prev_hash, row_hash"
)


@dataclass(frozen=True)
class AuditFilter:
    """Filters of `GET /api/audit`; None means no filter."""

    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


async def list_entries(
    conn: AsyncConnection[Any], filters: AuditFilter, *, limit: int, before_seq: int | None
) -> list[dict[str, Any]]:
    """Newest first; `before_seq` pages back from a seq (exclusive)."""
    condition, params = where(*_conditions(filters), ("seq < %s", before_seq))
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {AUDIT_COLUMNS} FROM orchestrator.audit_log WHERE {condition}"
            " ORDER BY seq DESC LIMIT %s",
            [*params, limit],
        )
        return await cur.fetchall()


async def list_newer_entries(
    conn: AsyncConnection[Any], filters: AuditFilter, *, limit: int, after_seq: int
) -> list[dict[str, Any]]:
    """The `limit` rows just after `after_seq` (exclusive), newest first: the page before one
    that `list_entries` returned, for paging back towards the newest row."""
    condition, params = where(*_conditions(filters), ("seq > %s", after_seq))
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT * FROM (SELECT {AUDIT_COLUMNS} FROM orchestrator.audit_log"
            f" WHERE {condition} ORDER BY seq LIMIT %s) AS newer ORDER BY seq DESC",
            [*params, limit],
        )
        return await cur.fetchall()


def _conditions(filters: AuditFilter) -> tuple[tuple[str, Any], ...]:
    return (
        ("entity_type = %s", filters.entity_type),
        ("entity_id = %s", filters.entity_id),
        ("actor = %s", filters.actor),
        ("action = %s", filters.action),
        ("occurred_at >= %s", filters.occurred_from),
        ("occurred_at < %s", filters.occurred_to),
    )
