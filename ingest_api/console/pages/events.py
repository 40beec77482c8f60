"""GET /console/events and /console/events/{id}: the stored events and the runs each started.
POST /console/replays/plan: the dry-run plan of a replay of selected events (nothing changes);
POST /console/replays: the replay, from the plan's Confirm; GET /console/replays/{id}: its runs
as they go. The same core functions, selection model and limits as /api/events and
POST /api/replays."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from ingest_api.console.access import FormDep, ViewerDep
from ingest_api.console.pages.runs import MAX_PAGE, PAGE_SIZE
from ingest_api.console.params import Blank, Moment, ObjectType, OptionalId, as_utc, input_value
from ingest_api.console.rendering import is_htmx, page
from ingest_api.deps import ConnectionDep, PolicyDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID, NoNul
from ingest_api.routes.replays import ReplayRequest
from ingest_api.routes.runs import with_dagster_url
from orchestrator_core.queries.events import EventFilter, get_envelope, list_envelopes
from orchestrator_core.queries.replays import get_replay
from orchestrator_core.queries.runs import RunFilter, list_runs
from orchestrator_core.records.replays import (
    ENVELOPE_STATUSES,
    ReplayPlan,
    plan_replay,
    start_replay,
)

router = APIRouter(prefix="/console", include_in_schema=False)

SECTION = "/console/events"
# The most envelope ids one form selects: a page lists at most MAX_PAGE events, and the form
# parser takes at most 2000 fields; a larger selection is a replay by filter.
MAX_SELECTED = 1000
RUNS_LISTED = 20  # an event's runs on its page; the rest on the runs page
PLANNED_LISTED = 100  # planned runs shown in full; the counts cover them all
SKIPPED_LISTED = 50
SubscriptionType = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.\-]{1,80}$"), Blank, NoNul]


@router.get("/events")
async def events_list(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    status: Annotated[str | None, Query(max_length=40), Blank, NoNul] = None,
    subscription_type: SubscriptionType = None,
    object_type: ObjectType = None,
    object_id: OptionalId = None,
    correlation_id: Annotated[uuid.UUID | None, Query(), Blank] = None,
    occurred_from: Moment = None,
    occurred_to: Moment = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE_SIZE,
    before_id: OptionalId = None,
) -> Response:
    if status is not None and status not in ENVELOPE_STATUSES:
        raise ApiError(
            422,
            "invalid_request",
            f"unknown event status {status!r}; one of {', '.join(ENVELOPE_STATUSES)}",
            details=[{"field": "query.status", "message": "unknown status"}],
        )
    filters = EventFilter(
        status=status,
        subscription_type=subscription_type,
        object_type=object_type,
        object_id=object_id,
        correlation_id=correlation_id,
        occurred_from=as_utc(occurred_from),
        occurred_to=as_utc(occurred_to),
    )
    rows = await list_envelopes(conn, filters=filters, limit=limit + 1, before_id=before_id)
    envelopes, next_cursor = page_of(rows, limit)
    context = {
        "section": SECTION,
        "envelopes": envelopes,
        "next_cursor": next_cursor,
        "before_id": before_id,
        "filters": filters,
        "filtered": any(v is not None for v in vars(filters).values()),
        "occurred_from": input_value(filters.occurred_from),
        "occurred_to": input_value(filters.occurred_to),
        "statuses": ENVELOPE_STATUSES,
        "may_replay": viewer.can("POST", "/console/replays/plan"),
        "replay_filter": filter_selection(filters),
    }
    return page(request, "events_list.html", context, viewer=viewer, block="results")


@router.get("/events/{envelope_id}")
async def event_detail(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    settings: SettingsDep,
    envelope_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    envelope = await get_envelope(conn, envelope_id)
    if envelope is None:
        raise ApiError(404, "not_found", f"no event envelope with id {envelope_id}")
    runs = await list_runs(
        conn, filters=RunFilter(envelope_id=envelope_id), limit=RUNS_LISTED + 1, before_id=None
    )
    context = {
        "section": SECTION,
        "envelope": envelope,
        "runs": [with_dagster_url(settings, run) for run in runs[:RUNS_LISTED]],
        "more_runs": len(runs) > RUNS_LISTED,
        "may_replay": viewer.can("POST", "/console/replays/plan"),
    }
    return page(request, "events_detail.html", context, viewer=viewer)


@router.post("/replays/plan")
async def replay_plan(
    request: Request, viewer: ViewerDep, form: FormDep, conn: ConnectionDep, policy: PolicyDep
) -> Response:
    """What a replay of the selection would do; changes nothing. Its Confirm starts it."""
    body = replay_request(form)
    plan = await plan_replay(conn, policy, body.selection())
    context = {
        "section": SECTION,
        "plan": plan,
        "counts": plan.counts,
        "by_workflow": per_workflow(plan),
        "planned": plan.runs[:PLANNED_LISTED],
        "skipped": plan.skipped[:SKIPPED_LISTED],
        "selection": body.selection().as_json(),
        "fields": selection_fields(body),
        "policy_version": policy.version,
    }
    return page(request, "replay_plan.html", context, viewer=viewer, block="plan")


@router.post("/replays")
async def replay_start(
    request: Request, viewer: ViewerDep, form: FormDep, conn: ConnectionDep, policy: PolicyDep
) -> Response:
    """Start the replay the plan showed (planned again inside the transaction that stores it,
    as POST /api/replays does), then follow it on its page."""
    body = replay_request(form)
    started = await start_replay(
        conn, policy, body.selection(), actor=viewer.actor.recorded_as, source="operator"
    )
    target = f"/console/replays/{started.id}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/replays/{replay_id}")
async def replay_detail(
    request: Request,
    viewer: ViewerDep,
    conn: ConnectionDep,
    settings: SettingsDep,
    replay_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    replay = await get_replay(conn, replay_id)
    if replay is None:
        raise ApiError(404, "not_found", f"no replay with id {replay_id}")
    runs = [with_dagster_url(settings, run) for run in replay["runs"]]
    context = {"section": SECTION, "replay": replay, "runs": runs}
    return page(request, "replay_detail.html", context, viewer=viewer, block="progress")


def replay_request(form: FormData) -> ReplayRequest:
    """The submitted selection as the API's request model, so the same limits and checks
    apply; a problem is a 422 naming the field."""
    ids = _values(form, "envelope_ids")
    if len(ids) > MAX_SELECTED:
        raise ApiError(
            422,
            "selection_too_large",
            f"select at most {MAX_SELECTED} events at once (got {len(ids)}); for more, replay"
            " by filter (a time range, an object) from the events page",
            details=[{"field": "form.envelope_ids", "message": f"at most {MAX_SELECTED}"}],
        )
    object_types, object_ids = _values(form, "object_type"), _values(form, "object_id")
    if len(object_types) != len(object_ids):
        raise ApiError(
            422,
            "invalid_request",
            "an object is selected by its type and its id together",
            details=[{"field": "form.object_id", "message": "object_type and object_id pair"}],
        )
    data: dict[str, Any] = {
        "envelope_ids": ids,
        "objects": [
            {"object_type": t, "object_id": i}
            for t, i in zip(object_types, object_ids, strict=True)
        ],
        "subscription_types": _values(form, "subscription_type"),
        "statuses": _values(form, "status"),
        "workflows": _values(form, "workflow"),
    }
    for moment in ("since", "until"):
        given = _values(form, moment)
        if given:
            data[moment] = given[0]
    try:
        return ReplayRequest.model_validate(data)
    except ValidationError as exc:
        details = [
            {"field": _form_field(err["loc"]), "message": err["msg"]} for err in exc.errors()
        ]
        raise ApiError(
            422, "invalid_request", "the selection is invalid", details=details
        ) from None


# The API model's list fields, by the name of the form field that fills them.
_FORM_NAMES = {
    "subscription_types": "subscription_type",
    "statuses": "status",
    "workflows": "workflow",
}


def _form_field(loc: tuple[int | str, ...]) -> str:
    """An error's place in the API model, named as the form's field: `form.status.0`."""
    parts = [str(p) for p in loc]
    if parts[0] == "objects" and len(parts) == 3:
        parts = [parts[2], parts[1]]  # objects.0.object_id → object_id.0
    parts[0] = _FORM_NAMES.get(parts[0], parts[0])
    return "form." + ".".join(parts)


def _values(form: FormData, name: str) -> list[str]:
    """A field's non-empty texts (a checkbox list, or one field left blank)."""
    return [v for v in form.getlist(name) if isinstance(v, str) and v != ""]


def selection_fields(body: ReplayRequest) -> list[tuple[str, str]]:
    """The selection as the hidden fields of the plan's Confirm: it posts what was planned."""
    fields = [("envelope_ids", str(i)) for i in dict.fromkeys(body.envelope_ids)]
    for ref in body.objects:
        fields += [("object_type", ref.object_type), ("object_id", str(ref.object_id))]
    fields += [("subscription_type", name) for name in body.subscription_types]
    fields += [("status", name) for name in body.statuses]
    fields += [("workflow", name) for name in body.workflows]
    if body.since is not None:
        fields.append(("since", body.since.isoformat()))
    if body.until is not None:
        fields.append(("until", body.until.isoformat()))
    return fields


def filter_selection(filters: EventFilter) -> list[tuple[str, str]] | None:
    """The events page's filters as a replay selection, when a selection can say exactly the
    same (a time range or one object, narrowed by type and status); None otherwise."""
    if filters.correlation_id is not None:
        return None
    if (filters.object_type is None) != (filters.object_id is None):
        return None  # a selection names objects by type and id together
    if filters.occurred_from is None and filters.object_id is None:
        return None  # a replay selects by ids, objects or `since`
    fields: list[tuple[str, str]] = []
    if filters.object_type is not None and filters.object_id is not None:
        fields += [("object_type", filters.object_type), ("object_id", str(filters.object_id))]
    if filters.occurred_from is not None:
        fields.append(("since", filters.occurred_from.isoformat()))
    if filters.occurred_to is not None:
        fields.append(("until", filters.occurred_to.isoformat()))
    if filters.subscription_type is not None:
        fields.append(("subscription_type", filters.subscription_type))
    if filters.status is not None:
        fields.append(("status", filters.status))
    return fields


@dataclass(frozen=True)
class WorkflowPlan:
    """One workflow's share of a plan."""

    workflow: str
    runs: int
    events: int
    reuse: int
    reapply: int
    new: int


def per_workflow(plan: ReplayPlan) -> list[WorkflowPlan]:
    totals: dict[str, dict[str, int]] = {}
    for run in plan.runs:
        row = totals.setdefault(
            run.workflow, {"runs": 0, "events": 0, "reuse": 0, "reapply": 0, "new": 0}
        )
        row["runs"] += 1
        row["events"] += len(run.envelope_ids)
        for write in run.writes:
            row[write.action] += 1
    return [WorkflowPlan(workflow, **row) for workflow, row in sorted(totals.items())]
