"""Health: `/health/live` (the process answers), `/health/ready` (database reachable and
migrations current), `/health` (every dependency, public: statuses and latencies) and
`/api/health` (the same with each error and detail, for signed-in users: the route-by-role
matrix decides who). The rules are `orchestrator_core.health.report`'s; docs/operations.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from ingest_api.auth.access import authorize
from ingest_api.deps import get_pool
from ingest_api.errors import JsonResponse
from orchestrator_core.health.report import HealthMonitor, HealthReport
from orchestrator_core.health.storage import Connect
from orchestrator_core.logging import get_logger

router = APIRouter(tags=["health"])
log = get_logger(__name__)

PoolDep = Annotated[AsyncConnectionPool[AsyncConnection[Any]], Depends(get_pool)]


def get_monitor(request: Request) -> HealthMonitor:
    monitor: HealthMonitor = request.app.state.health
    return monitor


MonitorDep = Annotated[HealthMonitor, Depends(get_monitor)]


def _connect(pool: AsyncConnectionPool[AsyncConnection[Any]], timeout: float) -> Connect:
    """A pooled connection, waited for at most `timeout` seconds."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncConnection[Any]]:
        async with pool.connection(timeout=timeout) as conn:
            yield conn

    def factory() -> AbstractAsyncContextManager[AsyncConnection[Any]]:
        return connect()

    return factory


async def _report(monitor: HealthMonitor, pool: PoolDep) -> HealthReport:
    report = await monitor.report(_connect(pool, monitor.settings.health_check_timeout_seconds))
    if report.status != "ok":
        down = sorted(name for name, check in report.checks().items() if check.down)
        log.warning("health check: dependencies down", status=report.status, down=down)
    return report


@router.get("/health/live")
async def live() -> JsonResponse:
    """The process is up and its event loop answers; nothing else is checked."""
    return JsonResponse({"status": "ok"})


@router.get("/health/ready")
async def ready(monitor: MonitorDep, pool: PoolDep) -> JsonResponse:
    """200 when the database answers and its schema is at this code's migrations' head; 503
    with what is wrong otherwise (take this replica out of rotation)."""
    readiness = await monitor.readiness(
        _connect(pool, monitor.settings.health_check_timeout_seconds)
    )
    if not readiness.ready:
        log.warning(
            "readiness check: not ready",
            database=readiness.database.status,
            migrations=readiness.migrations.status,
        )
    return JsonResponse(readiness.as_dict(), status_code=200 if readiness.ready else 503)


@router.get("/health")
async def health(monitor: MonitorDep, pool: PoolDep) -> JsonResponse:
    """Every dependency's status and latency; 503 only when the database is unreachable, 200
    with `"status": "degraded"` when anything else is down. Errors: `GET /api/health`."""
    report = await _report(monitor, pool)
    return JsonResponse(
        report.as_dict(detail=False), status_code=503 if report.status == "unavailable" else 200
    )


@router.get("/api/health", dependencies=[Depends(authorize)])
async def health_detail(monitor: MonitorDep, pool: PoolDep) -> JsonResponse:
    """`/health` with each dependency's last error and details: migration revisions, daemon
    heartbeat ages, each connector's mode, address and when it was last checked."""
    report = await _report(monitor, pool)
    return JsonResponse(
        report.as_dict(detail=True), status_code=503 if report.status == "unavailable" else 200
    )
