"""GET /api/events, GET /api/events/{id}, GET /api/rejections: what the ingest stored, and the
workflow runs each event started."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from ingest_api.auth.access import authorize
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID, Instant
from ingest_api.routes.runs import with_dagster_url
from orchestrator_core.queries.events import (
    EventFilter,
    get_envelope,
    list_envelopes,
    list_rejections,
)
from orchestrator_core.queries.runs import runs_of_envelope

router = APIRouter(prefix="/api", tags=["events"], dependencies=[Depends(authorize)])

MAX_PAGE = 500


class EnvelopePublic(BaseModel):
    id: int
    portal_id: int
    event_id: int
    content_hash: str
    subscription_type: str
    object_type: str | None
    object_type_id: str | None
    object_id: int | None
    property_name: str | None
    change_source: str | None
    source_id: str | None
    occurred_at: datetime
    attempt_number: int
    last_attempt_number: int
    delivery_count: int
    correlation_id: uuid.UUID
    delivery_id: uuid.UUID
    status: str
    status_reason: str | None
    payload: dict[str, Any]
    received_at: datetime
    updated_at: datetime


class EnvelopeRunPublic(BaseModel):
    """A workflow run the envelope started (alone or with correlated events)."""

    workflow_run_id: int
    workflow: str
    status: str
    outcome: str | None
    dagster_run_id: str | None
    dagster_url: str | None


class EnvelopeDetail(EnvelopePublic):
    runs: list[EnvelopeRunPublic]


class EnvelopePage(BaseModel):
    items: list[EnvelopePublic]
    next_cursor: int | None  # pass as `before_id` for the next page


class RejectionPublic(BaseModel):
    id: int
    delivery_id: uuid.UUID
    event_index: int
    raw_event: Any
    errors: list[dict[str, str]]
    seen_count: int
    received_at: datetime
    updated_at: datetime


class RejectionPage(BaseModel):
    items: list[RejectionPublic]
    next_cursor: int | None


@router.get("/events", response_model=EnvelopePage)
async def list_events(
    conn: ConnectionDep,
    status: Annotated[str | None, Query(description="received, unrouted, …")] = None,
    subscription_type: Annotated[str | None, Query(examples=["contact.creation"])] = None,
    object_type: Annotated[str | None, Query(examples=["company"])] = None,
    object_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    correlation_id: Annotated[uuid.UUID | None, Query()] = None,
    occurred_from: Annotated[Instant | None, Query(description="occurredAt ≥ (ISO 8601)")] = None,
    occurred_to: Annotated[Instant | None, Query(description="occurredAt < (ISO 8601)")] = None,
    received_from: Annotated[Instant | None, Query(description="stored at ≥")] = None,
    received_to: Annotated[Instant | None, Query(description="stored at <")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="cursor from the previous page")
    ] = None,
) -> EnvelopePage:
    """Stored envelopes, newest first, filtered; page with `next_cursor` → `before_id`."""
    filters = EventFilter(
        status=status,
        subscription_type=subscription_type,
        object_type=object_type,
        object_id=object_id,
        correlation_id=correlation_id,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        received_from=received_from,
        received_to=received_to,
    )
    rows = await list_envelopes(conn, filters=filters, limit=limit + 1, before_id=before_id)
    page, next_cursor = page_of(rows, limit)
    return EnvelopePage(
        items=[EnvelopePublic.model_validate(row) for row in page], next_cursor=next_cursor
    )


@router.get("/events/{envelope_id}", response_model=EnvelopeDetail)
async def get_event(
    conn: ConnectionDep, settings: SettingsDep, envelope_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> EnvelopeDetail:
    """One stored envelope by its id, with the workflow runs it started."""
    row = await get_envelope(conn, envelope_id)
    if row is None:
        raise ApiError(404, "not_found", f"no event envelope with id {envelope_id}")
    runs = [with_dagster_url(settings, run) for run in await runs_of_envelope(conn, envelope_id)]
    return EnvelopeDetail.model_validate({**row, "runs": runs})


@router.get("/rejections", response_model=RejectionPage)
async def rejected_events(
    conn: ConnectionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> RejectionPage:
    """Events that failed validation, with their errors, newest first."""
    rows = await list_rejections(conn, limit=limit + 1, before_id=before_id)
    page, next_cursor = page_of(rows, limit)
    return RejectionPage(
        items=[RejectionPublic.model_validate(row) for row in page], next_cursor=next_cursor
    )
