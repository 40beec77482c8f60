"""Read-only SQL against the published marts (`orchestrator analytics sql`), on a connection
that can reach nothing but the marts (`kpis.open_marts`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator_core.analytics.kpis import open_marts


class MartsNotBuilt(LookupError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no analytics marts at {path} yet: run `orchestrator analytics build` first"
        )


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(path: Path, sql: str, *, max_rows: int = 10_000) -> QueryResult:
    """The first `max_rows` rows of `sql`; duckdb.Error for a bad or writing statement."""
    conn = open_marts(path)
    if conn is None:
        raise MartsNotBuilt(path)
    try:
        cursor = conn.execute(sql)
        columns = [column[0] for column in cursor.description or ()]
        rows = cursor.fetchmany(max_rows) if columns else []
    finally:
        conn.close()
    return QueryResult(columns=columns, rows=rows)
