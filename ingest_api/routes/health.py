"""GET /health: the service and its database; 503 when the database cannot be reached."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from ingest_api.deps import get_pool
from ingest_api.errors import JsonResponse
from orchestrator_core.logging import get_logger

router = APIRouter(tags=["health"])
log = get_logger(__name__)

_CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/health")
async def health(
    pool: Annotated[AsyncConnectionPool[AsyncConnection[Any]], Depends(get_pool)],
) -> JsonResponse:
    started = time.perf_counter()
    try:
        async with pool.connection(timeout=_CHECK_TIMEOUT_SECONDS) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:
        log.warning("health check: database unreachable", error=type(exc).__name__)
        return JsonResponse(
            {"status": "unavailable", "database": {"status": "unreachable"}}, status_code=503
        )
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return JsonResponse({"status": "ok", "database": {"status": "ok", "latency_ms": latency_ms}})
