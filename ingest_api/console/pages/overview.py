"""GET /console: the overview; GET /console/live: its live part (queue and health), which the
page reloads by itself every few seconds."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ingest_api.console.access import ViewerDep
from ingest_api.console.rendering import page
from ingest_api.deps import ConnectionDep
from orchestrator_core.queries.queue import read_queue

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("")
async def overview(request: Request, viewer: ViewerDep, conn: ConnectionDep) -> Response:
    queue = await read_queue(conn, since_envelope_id=None)
    return page(request, "overview.html", {"section": "/console", "queue": queue}, viewer=viewer)


@router.get("/live")
async def live(request: Request, viewer: ViewerDep, conn: ConnectionDep) -> Response:
    queue = await read_queue(conn, since_envelope_id=None)
    return page(request, "overview.html", {"queue": queue}, viewer=viewer, block="live")
