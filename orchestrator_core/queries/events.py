"""Envelopes and rejections for the events API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core.queries.filters import where

ENVELOPE_COLUMNS = (
    "id, portal_id, event_id, content_hash, subscription_type, object_type, object_type_id,"
    " object_id, property_name, change_source, source_id, occurred_at, attempt_number,"
    " last_attempt_number, delivery_count, correlation_id, delivery_id, status, status_reason,"
    " payload, received_at, updated_at"
)


@dataclass(frozen=True)
class EventFilter:
    """Filters of the events API; None means no filter."""

    status: str | None = None
    subscription_type: str | None = None
    object_type: str | None = None
    object_id: int | None = None
    correlation_id: uuid.UUID | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None


async def list_envelopes(
    conn: AsyncConnection[Any], *, filters: EventFilter, limit: int, before_id: int | None
) -> list[dict[str, Any]]:
    """Envelopes matching `filters`, newest first, at most `limit`, ids below `before_id`."""
    condition, params = where(
        ("status = %s", filters.status),
        ("subscription_type = %s", filters.subscription_type),
        ("object_type = %s", filters.object_type),
        ("object_id = %s", filters.object_id),
        ("correlation_id = %s", filters.correlation_id),
        ("occurred_at >= %s", filters.occurred_from),
        ("occurred_at < %s", filters.occurred_to),
        ("received_at >= %s", filters.received_from),
        ("received_at < %s", filters.received_to),
        ("id < %s", before_id),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {ENVELOPE_COLUMNS} FROM orchestrator.event_envelopes"
            f" WHERE {condition} ORDER BY id DESC LIMIT %s",
            [*params, limit],
        )
        return await cur.fetchall()


async def get_envelope(conn: AsyncConnection[Any], envelope_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {ENVELOPE_COLUMNS} FROM orchestrator.event_envelopes WHERE id = %s",
            (envelope_id,),
        )
        return await cur.fetchone()


async def list_rejections(
    conn: AsyncConnection[Any], *, limit: int, before_id: int | None
) -> list[dict[str, Any]]:
    """Rejected events, newest first."""
    condition, params = where(("id < %s", before_id))
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, delivery_id, event_index, raw_event, errors, seen_count, received_at,"
            f" updated_at FROM orchestrator.webhook_rejections WHERE {condition}"
            " ORDER BY id DESC LIMIT %s",
            [*params, limit],
        )
        return await cur.fetchall()
