"""The health of what the product depends on, as the overview shows it: the database, the
Dagster webserver (and through it the daemon's runs), the analytics marts and the policy file.
Each check is bounded in time, so a dependency that hangs cannot hang the page."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from orchestrator_core.analytics.kpis import open_marts, read_build_info
from orchestrator_core.policy import PolicyError
from orchestrator_core.policy.current import CurrentPolicy
from orchestrator_core.settings import Settings

CHECK_TIMEOUT_SECONDS = 2.0
# The analytics schedule is hourly: marts older than this missed at least one build.
STALE_MARTS_SECONDS = 2 * 3600

Status = Literal["ok", "degraded", "down"]


@dataclass(frozen=True)
class DependencyHealth:
    name: str
    status: Status
    detail: str


async def database_health(pool: AsyncConnectionPool[AsyncConnection[Any]]) -> DependencyHealth:
    started = time.perf_counter()
    try:
        async with pool.connection(timeout=CHECK_TIMEOUT_SECONDS) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        return DependencyHealth("Postgres", "down", f"unreachable ({type(exc).__name__})")
    return DependencyHealth("Postgres", "ok", f"answers in {_ms(started)} ms")


async def dagster_health(settings: Settings) -> DependencyHealth:
    url = f"{settings.dagster_ui_url.rstrip('/')}/server_info"
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_SECONDS) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        return DependencyHealth("Dagster webserver", "down", f"unreachable ({type(exc).__name__})")
    if response.status_code != 200:
        return DependencyHealth("Dagster webserver", "degraded", f"HTTP {response.status_code}")
    return DependencyHealth("Dagster webserver", "ok", f"answers in {_ms(started)} ms")


def marts_health(settings: Settings) -> DependencyHealth:
    """Blocking (DuckDB): call it in a thread."""
    conn = open_marts(settings.kpis_path)
    if conn is None:
        return DependencyHealth("Analytics marts", "degraded", "not built yet")
    try:
        build = read_build_info(conn)
    finally:
        conn.close()
    built_at = build.built_at if build.built_at.tzinfo else build.built_at.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - built_at).total_seconds()
    minutes = int(age // 60)
    if age > STALE_MARTS_SECONDS:
        return DependencyHealth("Analytics marts", "degraded", f"last built {minutes} min ago")
    return DependencyHealth("Analytics marts", "ok", f"built {minutes} min ago")


def policy_health(policy: CurrentPolicy) -> DependencyHealth:
    try:
        loaded = policy.get()
    except (PolicyError, OSError) as exc:
        return DependencyHealth("Policy", "down", f"cannot be used ({type(exc).__name__})")
    return DependencyHealth("Policy", "ok", f"version {loaded.version}")


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f}"
