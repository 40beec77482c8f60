"""Accounts a page at a time, for the console's user list."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from orchestrator_core.db.columns import columns_of
from orchestrator_core.queries.filters import where
from orchestrator_core.users import User

_COLUMNS = columns_of(User)


async def list_users_page(
    conn: AsyncConnection[Any], *, limit: int, before_id: int | None
) -> list[User]:
    """Newest account first; `before_id` pages back from an id (exclusive)."""
    condition, params = where(("id < %s", before_id))
    cursor = conn.cursor(row_factory=class_row(User))
    await cursor.execute(
        f"SELECT {_COLUMNS} FROM orchestrator.users WHERE {condition} ORDER BY id DESC LIMIT %s",
        [*params, limit],
    )
    return await cursor.fetchall()
