"""Open exceptions as the console triages them: the most severe first, and within a severity
the longest open first; and how many of each severity are open."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core.queries.filters import where
from orchestrator_core.records.exceptions import EXCEPTION_COLUMNS

# critical first; an id (the order exceptions were opened in) breaks ties, oldest first.
_RANK = "CASE severity WHEN 'critical' THEN 0 WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END"


async def list_open_by_severity(
    conn: AsyncConnection[Any],
    *,
    severity: str | None,
    kind: str | None,
    workflow: str | None,
    limit: int,
    after_id: int | None,
) -> list[dict[str, Any]]:
    """Open exceptions matching the filters, most severe then oldest first, from the one
    after `after_id` in that order (the last one of the previous page)."""
    condition, params = where(
        ("severity = %s", severity),
        ("kind = %s", kind),
        ("workflow = %s", workflow),
        (
            f"({_RANK}, id) > (SELECT {_RANK}, id FROM orchestrator.exceptions WHERE id = %s)",
            after_id,
        ),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {EXCEPTION_COLUMNS} FROM orchestrator.exceptions"
            f" WHERE status = 'open' AND {condition} ORDER BY {_RANK}, id LIMIT %s",
            [*params, limit],
        )
        return await cur.fetchall()


async def count_open_by_severity(
    conn: AsyncConnection[Any], *, kind: str | None, workflow: str | None
) -> dict[str, int]:
    """How many exceptions of each severity are open (severities with none are absent)."""
    condition, params = where(("kind = %s", kind), ("workflow = %s", workflow))
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT severity, count(*) FROM orchestrator.exceptions"
            f" WHERE status = 'open' AND {condition} GROUP BY severity",
            params,
        )
        return {str(severity): int(count) for severity, count in await cur.fetchall()}
