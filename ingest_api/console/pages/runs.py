"""GET /console/runs: the workflow runs, filtered and paged by cursor; GET /console/runs/{id}:
one run with its events, Dagster runs, side effects (with the vendors' ids), approvals and
exceptions, and links to each. The same core queries as GET /api/runs and /api/runs/{id}."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BeforeValidator

from ingest_api.console.access import ViewerDep
from ingest_api.console.rendering import page
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.params import MAX_ID, NoNul
from ingest_api.routes.runs import RunStatusParam, dagster_run_url
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
from orchestrator_core.settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)

SECTION = "/console/runs"
PAGE_SIZE = 50
MAX_PAGE = 200
# A run's events are listed up to this many (a correlated batch can be long); the run's
# events are all one filter away on the events page.
EVENTS_LISTED = 100
IN_PROGRESS = frozenset({"requested", "running"})


def _blank_to_none(value: object) -> object:
    """A GET form sends its empty fields as `name=`: that means no filter, not a bad value."""
    return None if value == "" else value


Blank = BeforeValidator(_blank_to_none)
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID), Blank]
ObjectType = Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$"), Blank, NoNul]
Moment = Annotated[datetime | None, Query(), Blank]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def as_utc(moment: datetime | None) -> datetime | None:
    """A `datetime-local` field has no zone: the console's forms say their times are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def input_value(moment: datetime | None) -> str:
    """A time as a `datetime-local` field shows it (UTC, to the minute)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def next_cursor(rows: list[dict[str, Any]], limit: int) -> int | None:
    """The `before_id` of the next page: the last id shown, when a row was left over."""
    return int(rows[limit - 1]["id"]) if len(rows) > limit else None


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
    context = {
        "section": SECTION,
        "runs": [_with_link(row, settings) for row in rows[:limit]],
        "next_cursor": next_cursor(rows, limit),
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
        "run": _with_link(run, settings),
        "in_progress": run["status"] in IN_PROGRESS,
        "events": await envelopes_by_id(conn, run["envelope_ids"][:EVENTS_LISTED]),
        "events_hidden": max(0, len(run["envelope_ids"]) - EVENTS_LISTED),
        "attempts": [_with_link(a, settings) for a in attempts],
        "side_effects": await side_effects_of_thread(conn, run["thread_id"]),
        "approvals": await approvals_of_run(conn, workflow_run_id),
        "exceptions": await exceptions_of_run(conn, workflow_run_id),
        "may_replay": viewer.can("POST", "/console/replays/plan"),
    }
    return page(request, "runs_detail.html", context, viewer=viewer, block="run")


def _with_link(row: dict[str, Any], settings: Settings) -> dict[str, Any]:
    return {**row, "dagster_url": dagster_run_url(settings, row["dagster_run_id"])}
