"""GET /console: the overview (headline KPIs and charts from the analytics marts, for a period
and a workflow); GET /console/live: its live part (the queue and the health of every
dependency: the shared health report and the console's own checks), which the page reloads by
itself every few seconds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ingest_api.console import charts
from ingest_api.console.access import ViewerDep
from ingest_api.console.health import overview_health
from ingest_api.console.rendering import page
from ingest_api.deps import ConnectionDep, SettingsDep, get_pool
from orchestrator_core.analytics.kpis import Kpis, read_kpis
from orchestrator_core.policy.vocabulary import WORKFLOW_NAMES, WorkflowName
from orchestrator_core.queries.queue import read_queue

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_DAYS = 366
RUN_SERIES = (
    ("runs_succeeded", "s-succeeded", "succeeded"),
    ("runs_failed", "s-failed", "failed"),
    ("runs_open", "s-awaiting", "not finished"),
)


@router.get("")
async def overview(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    settings: SettingsDep,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="the period: the last N days")] = 30,
    workflow: Annotated[WorkflowName | None, Query()] = None,
) -> Response:
    kpis = await run_in_threadpool(read_kpis, settings.kpis_path, None, None, workflow, days)
    context = {
        "section": "/console",
        "days": days,
        "workflow": workflow,
        "workflows": WORKFLOW_NAMES,
        "kpis": kpis,
        "charts": _charts(kpis) if kpis else None,
        **await _live(request, conn),
    }
    return page(request, "overview.html", context, viewer=viewer)


@router.get("/live")
async def live(request: Request, viewer: ViewerDep, conn: ConnectionDep) -> Response:
    return page(request, "overview.html", await _live(request, conn), viewer=viewer, block="live")


def _charts(kpis: Kpis) -> dict[str, charts.Chart]:
    return {
        "runs": charts.stacked_columns(kpis.series, x="day", series=RUN_SERIES),
        "latency": charts.stacked_columns(
            kpis.series, x="day", series=(("p50_seconds_to_start", "bar", "s to start (p50)"),)
        ),
        "turnaround": charts.horizontal_bars(
            kpis.turnaround,
            label=("workflow", "approver_role"),
            value="p50_hours_to_decision",
            unit="h",
        ),
        "backlog": charts.horizontal_bars(
            kpis.backlog, label=("age_band",), value="open_exceptions", unit="open"
        ),
        "vendors": charts.horizontal_bars(
            kpis.vendor_writes, label=("vendor",), value="writes", unit="writes"
        ),
    }


async def _live(request: Request, conn: ConnectionDep) -> dict[str, object]:
    queue = await read_queue(conn, since_envelope_id=None)
    app = request.app.state
    health = await overview_health(app.health, get_pool(request), app.settings, app.policy)
    return {"queue": queue, "health": health}
