"""Sandbox state in Postgres schema `sandbox` (migration 0003).

Every vendor object is one row of `sandbox.records`, keyed by (vendor, collection, id) with the
object as JSON; `sandbox.requests` logs each vendor request. Several sandbox processes therefore
share one state, and it survives restarts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

JsonObject = dict[str, Any]

# Serialises resets and first-start seeding across processes.
_RESET_LOCK = "sandbox:reset"

_COLUMNS = "vendor, collection, id, data, created_at, updated_at"

# Logged outcomes of requests that reached their handler; every other outcome was refused.
SERVED_OUTCOMES = ("ok", "slow", "fault_lost_response")


@dataclass(frozen=True)
class Record:
    vendor: str
    collection: str
    id: str
    data: JsonObject
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewRecord:
    """A row to insert: what seeding and bulk loads write."""

    vendor: str
    collection: str
    id: str
    data: JsonObject


@dataclass(frozen=True)
class LoggedRequest:
    vendor: str
    method: str
    path: str
    query: str
    status: int
    outcome: str
    received_at: datetime
    duration_ms: float


def _record(row: Sequence[Any]) -> Record:
    return Record(
        vendor=row[0],
        collection=row[1],
        id=row[2],
        data=row[3],
        created_at=row[4],
        updated_at=row[5],
    )


class Store:
    """Records and the request log, through one connection (and its transaction)."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn

    async def lock(self, key: str) -> None:
        """Hold a transaction-scoped lock on `key` (e.g. one Airtable table during an upsert)."""
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))

    async def get(self, vendor: str, collection: str, record_id: str) -> Record | None:
        cursor = await self.conn.execute(
            f"SELECT {_COLUMNS} FROM sandbox.records"
            " WHERE vendor = %s AND collection = %s AND id = %s",
            (vendor, collection, record_id),
        )
        row = await cursor.fetchone()
        return _record(row) if row else None

    async def scan(self, vendor: str, collection: str) -> list[Record]:
        """Every record of a collection, oldest first."""
        cursor = await self.conn.execute(
            f"SELECT {_COLUMNS} FROM sandbox.records"
            " WHERE vendor = %s AND collection = %s ORDER BY seq",
            (vendor, collection),
        )
        return [_record(row) for row in await cursor.fetchall()]

    async def scan_matching(
        self, vendor: str, collection: str, contains: JsonObject
    ) -> list[Record]:
        """Records whose data contains `contains` (jsonb `@>`), oldest first."""
        cursor = await self.conn.execute(
            f"SELECT {_COLUMNS} FROM sandbox.records"
            " WHERE vendor = %s AND collection = %s AND data @> %s ORDER BY seq",
            (vendor, collection, Jsonb(contains)),
        )
        return [_record(row) for row in await cursor.fetchall()]

    async def scan_containing_any(
        self, vendor: str, collection: str, patterns: Sequence[JsonObject]
    ) -> list[Record]:
        """Records whose data contains at least one of `patterns` (jsonb `@>`, through the GIN
        index on `data`), oldest first."""
        if not patterns:
            return []
        clauses = " OR ".join(["data @> %s"] * len(patterns))
        cursor = await self.conn.execute(
            f"SELECT {_COLUMNS} FROM sandbox.records"
            f" WHERE vendor = %s AND collection = %s AND ({clauses}) ORDER BY seq",
            (vendor, collection, *(Jsonb(pattern) for pattern in patterns)),
        )
        return [_record(row) for row in await cursor.fetchall()]

    async def insert(
        self, vendor: str, collection: str, record_id: str, data: JsonObject
    ) -> Record | None:
        """Insert a new record; None when the id is taken."""
        cursor = await self.conn.execute(
            "INSERT INTO sandbox.records (vendor, collection, id, data) VALUES (%s, %s, %s, %s)"
            f" ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
            (vendor, collection, record_id, Jsonb(data)),
        )
        row = await cursor.fetchone()
        return _record(row) if row else None

    async def put(self, vendor: str, collection: str, record_id: str, data: JsonObject) -> Record:
        """Insert or replace a record."""
        cursor = await self.conn.execute(
            "INSERT INTO sandbox.records (vendor, collection, id, data) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (vendor, collection, id)"
            " DO UPDATE SET data = EXCLUDED.data, updated_at = clock_timestamp()"
            f" RETURNING {_COLUMNS}",
            (vendor, collection, record_id, Jsonb(data)),
        )
        row = await cursor.fetchone()
        assert row is not None
        return _record(row)

    async def delete(self, vendor: str, collection: str, record_id: str) -> bool:
        cursor = await self.conn.execute(
            "DELETE FROM sandbox.records WHERE vendor = %s AND collection = %s AND id = %s",
            (vendor, collection, record_id),
        )
        return cursor.rowcount > 0

    async def next_object_id(self) -> int:
        cursor = await self.conn.execute("SELECT nextval('sandbox.object_ids')")
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def next_object_ids(self, count: int) -> list[int]:
        """`count` new object ids in one round trip (what a bulk insert takes)."""
        cursor = await self.conn.execute(
            "SELECT nextval('sandbox.object_ids') FROM generate_series(1, %s)", (count,)
        )
        return [int(row[0]) for row in await cursor.fetchall()]

    async def log_request(self, entry: LoggedRequest) -> None:
        await self.conn.execute(
            "INSERT INTO sandbox.requests"
            " (vendor, method, path, query, status, outcome, received_at, duration_ms)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                entry.vendor,
                entry.method,
                entry.path,
                entry.query,
                entry.status,
                entry.outcome,
                entry.received_at,
                entry.duration_ms,
            ),
        )

    async def requests(self, vendor: str | None, limit: int) -> list[LoggedRequest]:
        """The newest logged requests, oldest first."""
        cursor = await self.conn.execute(
            "SELECT vendor, method, path, query, status, outcome, received_at, duration_ms"
            " FROM (SELECT * FROM sandbox.requests WHERE %(vendor)s::text IS NULL"
            " OR vendor = %(vendor)s ORDER BY id DESC LIMIT %(limit)s) newest ORDER BY id",
            {"vendor": vendor, "limit": limit},
        )
        return [LoggedRequest(*row) for row in await cursor.fetchall()]

    async def requests_per_second(self, vendor: str | None) -> list[tuple[str, datetime, int, int]]:
        """(vendor, second, requests answered by the handlers, requests refused) per second."""
        cursor = await self.conn.execute(
            "SELECT vendor, date_trunc('second', received_at) AS second,"
            " count(*) FILTER (WHERE outcome = ANY(%(served)s)),"
            " count(*) FILTER (WHERE NOT outcome = ANY(%(served)s))"
            " FROM sandbox.requests WHERE %(vendor)s::text IS NULL OR vendor = %(vendor)s"
            " GROUP BY 1, 2 ORDER BY 2, 1",
            {"vendor": vendor, "served": list(SERVED_OUTCOMES)},
        )
        return [(row[0], row[1], int(row[2]), int(row[3])) for row in await cursor.fetchall()]

    async def request_counts(self, vendor: str | None) -> list[tuple[str, str, int]]:
        """(vendor, outcome, requests) over the whole log."""
        cursor = await self.conn.execute(
            "SELECT vendor, outcome, count(*) FROM sandbox.requests"
            " WHERE %(vendor)s::text IS NULL OR vendor = %(vendor)s GROUP BY 1, 2 ORDER BY 1, 2",
            {"vendor": vendor},
        )
        return [(row[0], row[1], int(row[2])) for row in await cursor.fetchall()]

    async def clear_requests(self) -> int:
        """Empty the request log (the records stay); how many requests it held."""
        cursor = await self.conn.execute("DELETE FROM sandbox.requests")
        return cursor.rowcount

    async def is_empty(self) -> bool:
        cursor = await self.conn.execute("SELECT NOT EXISTS (SELECT 1 FROM sandbox.records)")
        row = await cursor.fetchone()
        return bool(row and row[0])

    async def replace_all(self, records: Iterable[NewRecord]) -> int:
        """Drop every record and logged request, restart ids, and load `records`."""
        await self.lock(_RESET_LOCK)
        await self.conn.execute("TRUNCATE sandbox.records, sandbox.requests RESTART IDENTITY")
        await self.conn.execute("ALTER SEQUENCE sandbox.object_ids RESTART")
        return await self.insert_many(records)

    async def seed_if_empty(self, records: Iterable[NewRecord]) -> bool:
        """Load `records` unless some process already did; True when this call loaded them."""
        await self.lock(_RESET_LOCK)
        if not await self.is_empty():
            return False
        await self.insert_many(records)
        return True

    async def insert_many(self, records: Iterable[NewRecord]) -> int:
        rows = [(r.vendor, r.collection, r.id, Jsonb(r.data)) for r in records]
        async with self.conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO sandbox.records (vendor, collection, id, data)"
                " VALUES (%s, %s, %s, %s)",
                rows,
            )
        return len(rows)
