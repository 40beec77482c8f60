"""What needs a person: GET /api/exceptions/open, GET /api/exceptions/{id} (with the fix
actions it offers), POST /api/exceptions/{id}/actions/{action} (one-click fixes), PATCH
/api/exceptions/{id}/resolve (a note)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ingest_api.actor import Actor
from ingest_api.auth.access import ActorDep, authorize
from ingest_api.deps import ConnectionDep, PolicyDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID, NoNul
from ingest_api.routes.runs import with_dagster_url
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.queries.exceptions import list_open_exceptions
from orchestrator_core.records.exception_actions import ActionName, act, exception_with_actions
from orchestrator_core.records.exceptions import ExceptionAlreadyResolved, resolve_exception
from orchestrator_core.settings import Settings

router = APIRouter(prefix="/api", tags=["exceptions"], dependencies=[Depends(authorize)])

MAX_PAGE = 500
MAX_NOTE = 2000


class ExceptionPublic(BaseModel):
    id: int
    kind: str
    severity: str
    status: str
    message: str
    suggested_fix: str | None
    occurrences: int  # how often the same problem was raised while open
    workflow: str | None
    workflow_run_id: int | None
    # the Dagster run that raised it, and its page in the Dagster UI
    dagster_run_id: str | None
    dagster_url: str | None
    step: str | None
    envelope_ids: list[int]
    portal_id: int | None
    object_type: str | None
    object_id: int | None
    details: dict[str, Any]
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None


class ExceptionPage(BaseModel):
    items: list[ExceptionPublic]
    next_cursor: int | None  # pass as `before_id` for the next page


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE),
        NoNul,
        Field(description="what was done about it (required, not blank)"),
    ]


@router.get("/exceptions/open", response_model=ExceptionPage)
async def open_exceptions(
    conn: ConnectionDep,
    settings: SettingsDep,
    kind: Annotated[str | None, Query(examples=["connector_permanent"])] = None,
    workflow: Annotated[str | None, Query(examples=["company_intake"])] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="cursor from the previous page")
    ] = None,
) -> ExceptionPage:
    """Open exceptions, newest first, filtered; page with `next_cursor` → `before_id`."""
    rows = await list_open_exceptions(
        conn, kind=kind, workflow=workflow, limit=limit + 1, before_id=before_id
    )
    page, next_cursor = page_of(rows, limit)
    return ExceptionPage(items=[_exception(row, settings) for row in page], next_cursor=next_cursor)


@router.patch(
    "/exceptions/{exception_id}/resolve",
    response_model=ExceptionPublic,
    description=(
        "Resolve an exception with a note, as the token's user (recorded as `user:<email>`)."
        " Sending the same note again answers the resolved exception; a different note on a"
        " resolved exception answers 409."
    ),
)
async def resolve(
    conn: ConnectionDep,
    settings: SettingsDep,
    actor: ActorDep,
    exception_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: ResolveRequest,
) -> ExceptionPublic:
    try:
        row = await resolve_exception(
            conn, exception_id, note=body.note, resolved_by=actor.recorded_as
        )
    except ExceptionAlreadyResolved as exc:
        resolved = exc.row
        raise ApiError(
            409,
            "already_resolved",
            f"exception {exception_id} was already resolved with a different note",
            details={
                "resolved_at": resolved["resolved_at"],
                "resolved_by": resolved["resolved_by"],
                "resolution_note": resolved["resolution_note"],
            },
        ) from None
    if row is None:
        raise ApiError(404, "not_found", f"no exception with id {exception_id}")
    return _exception(row, settings)


class OfferedActionPublic(BaseModel):
    action: str
    description: str
    params: dict[str, str]  # parameter → what it must hold


class ExceptionActionPublic(BaseModel):
    id: int
    exception_id: int
    action: str
    actor: str
    params: dict[str, Any]
    # pending while the run carrying its effect goes on; succeeded (the exception resolved)
    # or failed (it stays open, with the error)
    status: str
    workflow_run_id: int | None
    replay_id: int | None
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class ExceptionDetail(ExceptionPublic):
    run_status: str | None  # of the run that raised it
    actions_role: str  # the role acting on it needs
    actions: list[OfferedActionPublic]  # what applies now (none while one is pending)
    action_history: list[ExceptionActionPublic]


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[str, StringConstraints(max_length=MAX_NOTE)] | None = Field(
        None, description="apply_value: the value to set (checked like the workflow does)"
    )
    reason: Annotated[str, StringConstraints(max_length=MAX_NOTE)] | None = Field(
        None, description="dismiss: why (required)"
    )
    note: Annotated[str, StringConstraints(max_length=MAX_NOTE)] | None = None


@router.get("/exceptions/{exception_id}", response_model=ExceptionDetail)
async def exception_detail(
    conn: ConnectionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    exception_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> ExceptionDetail:
    """One exception, the fix actions it offers now and the actions taken on it."""
    row = await exception_with_actions(conn, exception_id, policy)
    if row is None:
        raise ApiError(404, "not_found", f"no exception with id {exception_id}")
    return ExceptionDetail.model_validate(with_dagster_url(settings, row))


@router.post(
    "/exceptions/{exception_id}/actions/{action}",
    response_model=ExceptionActionPublic,
    responses={202: {"description": "the fix runs; the action is pending until its run ends"}},
    description=(
        "Fix an exception in one click: `retry`, `replay`, `accept_suggestion`, `apply_value`"
        " (body `value`) or `dismiss` (body `reason`); `GET /api/exceptions/{id}` lists those"
        " that apply. A fix that runs a workflow answers 202 with the pending action; the"
        " exception is resolved when that run succeeds. The same request again answers the"
        " same action; another action while one is pending, or on a resolved exception, 409."
    ),
)
async def exception_action(
    conn: ConnectionDep,
    policy: PolicyDep,
    actor: ActorDep,
    exception_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    action: ActionName,
    response: Response,
    body: ActionRequest | None = None,
) -> ExceptionActionPublic:
    params = (body or ActionRequest()).model_dump(exclude_none=True)
    row = await act_as(conn, policy, actor, exception_id, action, params)
    if row["status"] == "pending":
        response.status_code = 202
    return ExceptionActionPublic.model_validate(row)


async def act_as(
    conn: AsyncConnection[Any],
    policy: LoadedPolicy,
    actor: Actor,
    exception_id: int,
    action: ActionName,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """`action` carried out by `actor` as `act` does it (its refusals propagate): the action
    row, 404 when there is no such exception. The API's and the console's."""
    row = await act(
        conn, policy, exception_id, action, params, actor=actor.recorded_as, actor_role=actor.role
    )
    if row is None:
        raise ApiError(404, "not_found", f"no exception with id {exception_id}")
    return row


def _exception(row: dict[str, Any], settings: Settings) -> ExceptionPublic:
    return ExceptionPublic.model_validate(with_dagster_url(settings, row))
