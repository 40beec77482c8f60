"""Exceptions for the exceptions API: the open ones."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core.queries.filters import where
from orchestrator_core.records.exceptions import EXCEPTION_COLUMNS


async def list_open_exceptions(
    conn: AsyncConnection[Any],
    *,
    kind: str | None,
    workflow: str | None,
    limit: int,
    before_id: int | None,
) -> list[dict[str, Any]]:
    """Open exceptions, newest first."""
    condition, params = where(
        ("kind = %s", kind), ("workflow = %s", workflow), ("id < %s", before_id)
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {EXCEPTION_COLUMNS} FROM orchestrator.exceptions"
            f" WHERE status = 'open' AND {condition} ORDER BY id DESC LIMIT %s",
            [*params, limit],
        )
        return await cur.fetchall()
