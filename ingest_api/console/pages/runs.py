"""GET /console/runs: the workflow runs, filtered and paged by cursor; GET /console/runs/{id}:
one run with its events, Dagster runs, side effects (with the vendors' ids), approvals and
exceptions, and links to each. The same core queries as GET /api/runs and /api/runs/{id}."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ingest_api.console.access import ViewerDep
from ingest_api.console.params import Blank, Moment, ObjectType, OptionalId, as_utc, input_value
from ingest_api.console.rendering import page
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID
from ingest_api.routes.runs import RunStatusParam, with_dagster_url
from orchestrator_core.policy.vocabulary import WORKFLOW_NAMES, WorkflowName
from orchestrator_core.queries.runs import (
    RunFilter,
    approvals_of_run,
    attempts_of_run,
    envelopes_by_id,
    exceptions_of_run,
    get_run_detail,
    list_runs,
    side_effects_of_thread,
)

router = APIRouter(prefix="/console", include_in_schema=False)

SECTION = "/console/runs"
PAGE_SIZE = 50
MAX_PAGE = 200
# A run's events are listed up to this many (a correlated batch can be long); the run's
# events are all one filter away on the events page.
EVENTS_LISTED = 100
IN_PROGRESS = frozenset({"requested", "running"})
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/runs")
async def runs_list(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    settings: SettingsDep,
    workflow: Annotated[WorkflowName | None, Query(), Blank] = None,
    status: Annotated[RunStatusParam | None, Query(), Blank] = None,
    object_type: ObjectType = None,
    object_id: OptionalId = None,
    envelope_id: OptionalId = None,
    replay_id: OptionalId = None,
    requested_from: Moment = None,
    requested_to: Moment = None,
    limit: PageSize = PAGE_SIZE,
    before_id: OptionalId = None,
) -> Response:
    filters = RunFilter(
        workflow=workflow,
        status=status,
        object_type=object_type,
        object_id=object_id,
        envelope_id=envelope_id,
        requested_from=as_utc(requested_from),
        requested_to=as_utc(requested_to),
        replay_id=replay_id,
    )
    rows = await list_runs(conn, filters=filters, limit=limit + 1, before_id=before_id)
    shown, next_cursor = page_of(rows, limit)
    context = {
        "section": SECTION,
        "runs": [with_dagster_url(settings, row) for row in shown],
        "next_cursor": next_cursor,
        "before_id": before_id,
        "filters": filters,
        "filtered": any(v is not None for v in vars(filters).values()),
        "requested_from": input_value(filters.requested_from),
        "requested_to": input_value(filters.requested_to),
        "workflows": WORKFLOW_NAMES,
        "statuses": get_args(RunStatusParam),
    }
    return page(request, "runs_list.html", context, viewer=viewer, block="results")


@router.get("/runs/{workflow_run_id}")
async def run_detail(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    settings: SettingsDep,
    workflow_run_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    run = await get_run_detail(conn, workflow_run_id)
    if run is None:
        raise ApiError(404, "not_found", f"no workflow run with id {workflow_run_id}")
    attempts = await attempts_of_run(conn, workflow_run_id)
    context = {
        "section": SECTION,
        "run": with_dagster_url(settings, run),
        "in_progress": run["status"] in IN_PROGRESS,
        "events": await envelopes_by_id(conn, run["envelope_ids"][:EVENTS_LISTED]),
        "events_hidden": max(0, len(run["envelope_ids"]) - EVENTS_LISTED),
        "attempts": [with_dagster_url(settings, a) for a in attempts],
        "side_effects": await side_effects_of_thread(conn, run["thread_id"]),
        "approvals": await approvals_of_run(conn, workflow_run_id),
        "exceptions": await exceptions_of_run(conn, workflow_run_id),
        "may_replay": viewer.can("POST", "/console/replays/plan"),
    }
    return page(request, "runs_detail.html", context, viewer=viewer, block="run")
