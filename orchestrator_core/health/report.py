"""Every dependency's check in one report, and the rules that turn it into an answer.

The rule a load balancer relies on: `/health` is 503 only when this replica cannot serve at all
(its database is unreachable); a stopped daemon, a failing vendor, migrations not current give
200 with `"status": "degraded"`. `/health/ready` is 503 when the database is unreachable or its
schema is not at this code's migrations' head (take the replica out of rotation until then).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from orchestrator_core.db.migrate import head_revision
from orchestrator_core.health.model import Check
from orchestrator_core.health.storage import Connect, StorageChecks, check_storage
from orchestrator_core.health.vendors import VendorCheck, VendorMonitor
from orchestrator_core.settings import Settings
from orchestrator_core.vendor_connections import Vendor, all_connections, safe_url

Overall = Literal["ok", "degraded", "unavailable"]


@dataclass(frozen=True)
class HealthReport:
    database: Check
    migrations: Check
    dagster_daemon: Check
    vendors: Mapping[Vendor, VendorCheck]
    sandbox: Check | None  # present when a connector is in sandbox mode

    @property
    def status(self) -> Overall:
        """`unavailable` (503) when the database is down; `degraded` when anything else is."""
        if self.database.down:
            return "unavailable"
        return "degraded" if any(check.down for check in self.checks().values()) else "ok"

    def checks(self) -> dict[str, Check]:
        found = {
            "database": self.database,
            "migrations": self.migrations,
            "dagster_daemon": self.dagster_daemon,
            **{f"vendor:{name}": check.as_check() for name, check in self.vendors.items()},
        }
        if self.sandbox is not None:
            found["sandbox"] = self.sandbox
        return found

    def as_dict(self, *, detail: bool) -> dict[str, object]:
        """The report as JSON: statuses and latencies, plus errors and details when `detail`."""

        def shown(check: Check) -> dict[str, object]:
            return check.full() if detail else check.summary()

        body: dict[str, object] = {
            "status": self.status,
            "database": shown(self.database),
            "migrations": shown(self.migrations),
            "dagster_daemon": shown(self.dagster_daemon),
            "vendors": {name: shown(check.as_check()) for name, check in self.vendors.items()},
        }
        if self.sandbox is not None:
            body["sandbox"] = shown(self.sandbox)
        return body


@dataclass(frozen=True)
class Readiness:
    database: Check
    migrations: Check

    @property
    def ready(self) -> bool:
        return not (self.database.down or self.migrations.down)

    def problems(self) -> list[str]:
        """What keeps this replica out of rotation, in words fit for anyone (no error text, no
        address: `GET /api/health` has those)."""
        found = []
        if self.database.down:
            found.append("database unreachable")
        elif self.migrations.down:
            revision = self.migrations.detail.get("revision")
            head = self.migrations.detail.get("head")
            found.append(
                f"migrations not current: the database is at {revision}, this code at {head}"
                if "revision" in self.migrations.detail
                else "migrations not checked"
            )
        return found

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not ready",
            "problems": self.problems(),
            "database": {"status": self.database.status},
            "migrations": {
                "status": self.migrations.status,
                "revision": self.migrations.detail.get("revision"),
                "head": self.migrations.detail.get("head"),
            },
        }


def sandbox_check(settings: Settings, vendors: Mapping[Vendor, VendorCheck]) -> Check | None:
    """The sandbox as the sandboxed connectors found it; None when no connector uses it."""
    used = [check for check in vendors.values() if check.mode == "sandbox"]
    if not used:
        return None
    failing = [check for check in used if not check.usable]
    latencies = [check.latency_ms for check in used if check.latency_ms is not None]
    return Check(
        "down" if failing else "ok",
        max(latencies) if latencies else None,
        "; ".join(f"{c.vendor}: {c.detail}" for c in failing) or None,
        {"url": safe_url(settings.sandbox_url), "vendors": sorted(c.vendor for c in used)},
    )


class HealthMonitor:
    """The checks of one long-lived process (an API process): vendor results reused for
    HEALTH_VENDOR_TTL_SECONDS. Build it once, `close` it at shutdown; no I/O until asked."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.vendors = VendorMonitor(
            all_connections(settings),
            ttl=settings.health_vendor_ttl_seconds,
            timeout=settings.health_vendor_timeout_seconds,
        )
        self._head: str | None = None

    @property
    def head(self) -> str | None:
        """The newest migration this code ships (read from its files once)."""
        if self._head is None:
            self._head = head_revision()
        return self._head

    @property
    def daemon_types(self) -> list[str]:
        return [t.strip() for t in self.settings.health_daemon_types.split(",") if t.strip()]

    async def storage(self, connect: Connect, *, daemon: bool = True) -> StorageChecks:
        return await check_storage(
            connect,
            head=self.head,
            limit_seconds=self.settings.health_check_timeout_seconds,
            daemon_types=self.daemon_types if daemon else None,
            stale_after=self.settings.health_daemon_stale_seconds,
        )

    async def readiness(self, connect: Connect) -> Readiness:
        storage = await self.storage(connect, daemon=False)
        return Readiness(storage.database, storage.migrations)

    async def report(self, connect: Connect) -> HealthReport:
        storage, vendors = await asyncio.gather(self.storage(connect), self.vendors.checks())
        return build_report(self.settings, storage, vendors)

    def close(self) -> None:
        self.vendors.close()


def build_report(
    settings: Settings, storage: StorageChecks, vendors: Mapping[Vendor, VendorCheck]
) -> HealthReport:
    assert storage.dagster_daemon is not None
    return HealthReport(
        database=storage.database,
        migrations=storage.migrations,
        dagster_daemon=storage.dagster_daemon,
        vendors=dict(vendors),
        sandbox=sandbox_check(settings, dict(vendors)),
    )
