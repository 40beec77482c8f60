"""The checks that read Postgres: the database answers, its schema is at the migrations' head,
and the Dagster daemon beats (its heartbeats read from Dagster's run storage by plain SQL: the
API never imports Dagster).

Dagster's daemon writes one row per daemon type into `dagster.daemon_heartbeats` every 30 s
(columns `daemon_type`, `daemon_id`, `timestamp`, `body`: the serialized heartbeat, whose
`timestamp` is the epoch seconds Dagster itself reads back). Each check runs on one connection
under a statement timeout; each reports its own latency and error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

from orchestrator_core.db.migrate import SCHEMA, VERSION_TABLE
from orchestrator_core.db.urls import DAGSTER_SCHEMA
from orchestrator_core.health.model import Check, elapsed_ms, safe_error

# A connection to check with: the API's pool (`pool.connection`) or a new one (the CLI).
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection[Any]]]

HEARTBEATS_TABLE = f"{DAGSTER_SCHEMA}.daemon_heartbeats"
_VERSIONS_TABLE = f"{SCHEMA}.{VERSION_TABLE}"


@dataclass(frozen=True)
class StorageChecks:
    database: Check
    migrations: Check
    dagster_daemon: Check | None  # None when not asked for (readiness)


def _not_checked(reason: str) -> Check:
    return Check("down", None, f"not checked: {reason}")


async def check_storage(
    connect: Connect,
    *,
    head: str | None,
    limit_seconds: float,
    daemon_types: Sequence[str] | None = None,
    stale_after: float = 90.0,
) -> StorageChecks:
    """The database, its migrations and (unless `daemon_types` is None) the daemon's heartbeats,
    in at most about `limit_seconds`; never raises for an unreachable or slow database."""
    database: Check | None = None
    migrations: Check | None = None
    daemon: Check | None = None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit_seconds), connect() as conn:
            statement_ms = f"{int(limit_seconds * 1000)}"
            await conn.execute("SELECT set_config('statement_timeout', %s, true)", (statement_ms,))
            await conn.execute("SELECT 1")
            database = Check("ok", elapsed_ms(started))
            migrations = await _migrations(conn, head)
            if daemon_types is not None:
                daemon = await _daemon(conn, daemon_types, stale_after)
    except Exception as exc:  # unreachable, timed out, refused: each is "down" with its reason
        error = safe_error(exc if str(exc) or not isinstance(exc, TimeoutError) else "timed out")
        if database is None:
            database = Check("down", elapsed_ms(started), error)
        reason = "the database is down" if database.down else error
        migrations = migrations or _not_checked(reason)
        if daemon_types is not None:
            daemon = daemon or _not_checked(reason)
    return StorageChecks(database=database, migrations=migrations, dagster_daemon=daemon)


async def _migrations(conn: AsyncConnection[Any], head: str | None) -> Check:
    started = time.perf_counter()
    cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (_VERSIONS_TABLE,))
    exists = await cursor.fetchone()
    revision: str | None = None
    if exists and exists[0]:
        cursor = await conn.execute(
            sql.SQL("SELECT version_num FROM {}").format(sql.Identifier(SCHEMA, VERSION_TABLE))
        )
        revision = ",".join(sorted(str(row[0]) for row in await cursor.fetchall())) or None
    latency = elapsed_ms(started)
    detail = {"revision": revision, "head": head}
    if revision == head:
        return Check("ok", latency, None, detail)
    if revision is None:
        error = f"the database is not migrated (head {head}): run `orchestrator db upgrade`"
    else:
        error = (
            f"the database is at revision {revision}, this code expects {head}:"
            " run `orchestrator db upgrade` (or deploy the code of that revision)"
        )
    return Check("down", latency, error, detail)


async def _daemon(conn: AsyncConnection[Any], required: Sequence[str], stale_after: float) -> Check:
    """Each daemon type's last heartbeat age; a required one missing or older than
    `stale_after` seconds makes the daemon down."""
    started = time.perf_counter()
    cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (HEARTBEATS_TABLE,))
    exists = await cursor.fetchone()
    if not (exists and exists[0]):
        return Check(
            "down",
            elapsed_ms(started),
            f"no Dagster storage in schema {DAGSTER_SCHEMA}: the daemon never ran on this database",
            {"heartbeats": {}},
        )
    # The server's clock on both sides; body.timestamp is what Dagster's own reader uses.
    cursor = await conn.execute(
        sql.SQL("""
        SELECT daemon_type,
               EXTRACT(EPOCH FROM now())
                 - COALESCE((body::jsonb ->> 'timestamp')::float8,
                            EXTRACT(EPOCH FROM "timestamp" AT TIME ZONE 'UTC')),
               COALESCE(jsonb_array_length(body::jsonb -> 'errors'), 0)
        FROM {}
        ORDER BY daemon_type
        """).format(sql.Identifier(DAGSTER_SCHEMA, "daemon_heartbeats"))
    )
    rows = await cursor.fetchall()
    latency = elapsed_ms(started)
    heartbeats = {
        str(daemon_type): {
            "age_seconds": round(float(age), 1),
            "stale": float(age) > stale_after,
            "errors": int(errors),
            "required": daemon_type in required,
        }
        for daemon_type, age, errors in rows
    }
    missing = [name for name in required if name not in heartbeats]
    stale = [name for name in required if name in heartbeats and heartbeats[name]["stale"]]
    detail = {"heartbeats": heartbeats, "stale_after_seconds": stale_after}
    problems = []
    if missing:
        problems.append(f"no heartbeat from {', '.join(missing)}")
    if stale:
        problems.append(f"no heartbeat for over {stale_after:g} s from {', '.join(stale)}")
    if problems:
        return Check("down", latency, "; ".join(problems), detail)
    return Check("ok", latency, None, detail)
