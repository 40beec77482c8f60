"""GET /api/exceptions/open, PATCH /api/exceptions/{id}/resolve: what needs a person."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ingest_api.auth.access import ActorDep, authorize
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.routes.runs import dagster_run_url
from orchestrator_core.queries.exceptions import list_open_exceptions
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
        int | None, Query(ge=1, description="cursor from the previous page")
    ] = None,
) -> ExceptionPage:
    """Open exceptions, newest first, filtered; page with `next_cursor` → `before_id`."""
    rows = await list_open_exceptions(
        conn, kind=kind, workflow=workflow, limit=limit + 1, before_id=before_id
    )
    page = rows[:limit]
    return ExceptionPage(
        items=[_exception(row, settings) for row in page],
        next_cursor=page[-1]["id"] if len(rows) > limit else None,
    )


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
    exception_id: Annotated[int, Path(ge=1)],
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


def _exception(row: dict[str, Any], settings: Settings) -> ExceptionPublic:
    return ExceptionPublic.model_validate(
        {**row, "dagster_url": dagster_run_url(settings, row["dagster_run_id"])}
    )
