"""The health of what the product depends on, as the overview shows it: the shared report of
`orchestrator_core.health` (the one `GET /api/health` serves, details included: the database,
its migrations, the Dagster daemon, each vendor connector, the sandbox), read through the API
process's `HealthMonitor`, plus what only the console checks: the Dagster webserver it links to,
the analytics marts it charts and the policy file. Each check is bounded in time (the shared
report by its own HEALTH_* timeouts), so a dependency that hangs cannot hang the page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import httpx
from fastapi.concurrency import run_in_threadpool
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from ingest_api.console.rendering import duration
from orchestrator_core.analytics.kpis import open_marts, read_build_info
from orchestrator_core.health.model import Check
from orchestrator_core.health.report import HealthMonitor
from orchestrator_core.health.vendors import VendorCheck
from orchestrator_core.policy import PolicyError
from orchestrator_core.policy.current import CurrentPolicy
from orchestrator_core.settings import Settings
from orchestrator_core.vendor_connections import Vendor

CHECK_TIMEOUT_SECONDS = 2.0
# The analytics schedule is hourly: marts older than this missed at least one build.
STALE_MARTS_SECONDS = 2 * 3600

Status = Literal["ok", "degraded", "down"]


@dataclass(frozen=True)
class DependencyHealth:
    name: str
    status: Status
    detail: str
    checked_at: datetime | None = None  # when it was checked, if earlier than now (vendors: TTL)


VENDOR_NAMES: Mapping[Vendor, str] = {
    "hubspot": "HubSpot",
    "airtable": "Airtable",
    "notion": "Notion",
    "google": "Google",
    "openai": "OpenAI",
}


async def overview_health(
    monitor: HealthMonitor,
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    settings: Settings,
    policy: CurrentPolicy,
) -> list[DependencyHealth]:
    """Every row of the overview's panel, checked at once: the shared report's entries (its
    database reads within HEALTH_CHECK_TIMEOUT_SECONDS, its vendor results shared with `/health`
    and reused for the monitor's TTL, so polling the page calls no vendor more often) with the
    console's own checks between and after them."""
    connect = partial(pool.connection, timeout=monitor.settings.health_check_timeout_seconds)
    report, dagster, marts = await asyncio.gather(
        monitor.report(connect), dagster_health(settings), run_in_threadpool(marts_health, settings)
    )
    rows = [
        _database(report.database),
        _migrations(report.migrations),
        _daemon(report.dagster_daemon),
        dagster,
        *(_vendor(check) for check in report.vendors.values()),
    ]
    if report.sandbox is not None:
        rows.append(_sandbox(report.sandbox))
    return [*rows, marts, policy_health(policy)]


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


def _latency(check: Check | VendorCheck) -> str:
    return "" if check.latency_ms is None else f" ({check.latency_ms:.0f} ms)"


def _database(check: Check) -> DependencyHealth:
    if check.down:
        return DependencyHealth("Postgres", "down", f"unreachable: {check.last_error}")
    return DependencyHealth("Postgres", "ok", f"answers in {check.latency_ms or 0:.0f} ms")


def _migrations(check: Check) -> DependencyHealth:
    if check.down:
        return DependencyHealth("Migrations", "down", check.last_error or "not current")
    revision = check.detail.get("revision")
    return DependencyHealth("Migrations", "ok", f"at revision {revision}, the code's head")


def _daemon(check: Check) -> DependencyHealth:
    beats = check.detail.get("heartbeats")
    ages = []
    if isinstance(beats, Mapping):
        for kind, beat in beats.items():
            errors = beat.get("errors", 0)
            ages.append(
                f"{kind} {duration(beat.get('age_seconds'))}"
                + (f" ({errors} errors)" if errors else "")
            )
    heard = f"last heartbeats: {', '.join(ages)}" if ages else ""
    if check.down:
        problem = check.last_error or "not beating"
        return DependencyHealth(
            "Dagster daemon", "down", f"{problem}; {heard}" if heard else problem
        )
    return DependencyHealth("Dagster daemon", "ok", heard or "beating")


def _vendor(check: VendorCheck) -> DependencyHealth:
    name = VENDOR_NAMES[check.vendor]
    if check.status == "not configured":
        # Nothing to reach (OpenAI without a key): the product works without it.
        return DependencyHealth(name, "ok", f"not configured: {check.detail}")
    where = f"{check.mode}, {check.base_url}"
    if check.status == "down":
        text = f"{where}: {check.reachability}: {check.detail}{_latency(check)}"
        return DependencyHealth(name, "down", text, check.checked_at)
    return DependencyHealth(
        name, "ok", f"{where}: {check.detail}{_latency(check)}", check.checked_at
    )


def _sandbox(check: Check) -> DependencyHealth:
    vendors = check.detail.get("vendors")
    serves = ", ".join(str(v) for v in vendors) if isinstance(vendors, list) else ""
    where = f"{check.detail.get('url')}, for {serves}"
    if check.down:
        return DependencyHealth("Sandbox", "down", f"{where}: {check.last_error}")
    return DependencyHealth("Sandbox", "ok", where)
