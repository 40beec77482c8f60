"""GET /api/runs, GET /api/runs/{id}: the workflow runs, what they did and where they stand."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, JsonValue

from ingest_api.auth.access import authorize
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError
from ingest_api.middleware import bind_run_to_request
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID, Instant
from orchestrator_core.queries.runs import (
    RunFilter,
    approvals_of_run,
    attempts_of_run,
    envelopes_by_id,
    exceptions_of_run,
    get_run_detail,
    list_runs,
)
from orchestrator_core.settings import Settings

router = APIRouter(prefix="/api", tags=["runs"], dependencies=[Depends(authorize)])

MAX_PAGE = 500

RunStatusParam: TypeAlias = Literal[
    "requested", "running", "awaiting_approval", "succeeded", "failed"
]


def dagster_run_url(settings: Settings, dagster_run_id: str | None) -> str | None:
    """The Dagster UI page of a Dagster run, or None without a run."""
    if dagster_run_id is None:
        return None
    return f"{settings.dagster_ui_url.rstrip('/')}/runs/{quote(dagster_run_id, safe='')}"


def with_dagster_url(settings: Settings, row: dict[str, Any]) -> dict[str, Any]:
    """A row naming a Dagster run (`dagster_run_id`) with that run's `dagster_url` added."""
    return {**row, "dagster_url": dagster_run_url(settings, row["dagster_run_id"])}


class RunPublic(BaseModel):
    id: int
    workflow: str
    status: str
    # the business result in a word (mirrored, needs_review, ...) and its explanation
    outcome: str | None
    outcome_message: str | None
    thread_id: str
    portal_id: int | None
    object_type: str | None
    object_id: int | None
    correlation_id: uuid.UUID | None
    envelope_ids: list[int]
    parent_id: int | None  # the run that requested this one, if not an event
    # a replayed run: its replay and the original run it replays
    replay_id: int | None
    replay_of: int | None
    retries: int  # how often an operator asked for it again after it failed
    # the Dagster run working on it now (or last), and its page in the Dagster UI
    dagster_run_id: str | None
    dagster_url: str | None
    policy_version: str
    error: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class RunPage(BaseModel):
    items: list[RunPublic]
    next_cursor: int | None  # pass as `before_id` for the next page


class RunEventPublic(BaseModel):
    """An envelope that started the run."""

    id: int
    event_id: int
    subscription_type: str
    property_name: str | None
    occurred_at: datetime
    status: str


class RunAttemptPublic(BaseModel):
    """A Dagster run that worked on the workflow run."""

    dagster_run_id: str
    dagster_url: str
    kind: str  # start, resume (retry or re-execution), continuation (after an approval)
    job_name: str
    status: str
    steps: list[str]
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class RunExceptionPublic(BaseModel):
    id: int
    kind: str
    severity: str
    status: str
    message: str


class RunApprovalPublic(BaseModel):
    id: int
    kind: str
    status: str
    approver_role: str
    due_at: datetime


class RunDetail(RunPublic):
    policy_hash: str
    last_requested_at: datetime | None
    trigger: dict[str, Any]  # what started it: the events, or the parent's request
    steps: list[str]  # graph nodes completed, across attempts, in order
    state_summary: JsonValue  # the LangGraph state as last summarised
    events: list[RunEventPublic]
    attempts: list[RunAttemptPublic]
    exceptions: list[RunExceptionPublic]
    approvals: list[RunApprovalPublic]


@router.get("/runs", response_model=RunPage)
async def list_workflow_runs(
    conn: ConnectionDep,
    settings: SettingsDep,
    workflow: Annotated[str | None, Query(examples=["company_intake"])] = None,
    status: Annotated[RunStatusParam | None, Query()] = None,
    object_type: Annotated[str | None, Query(examples=["company"])] = None,
    object_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    envelope_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="runs started by this event envelope")
    ] = None,
    requested_from: Annotated[Instant | None, Query(description="requested at ≥")] = None,
    requested_to: Annotated[Instant | None, Query(description="requested at <")] = None,
    replay_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="the runs of this replay")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="cursor from the previous page")
    ] = None,
) -> RunPage:
    """Workflow runs, newest first, filtered; page with `next_cursor` → `before_id`."""
    filters = RunFilter(
        workflow=workflow,
        status=status,
        object_type=object_type,
        object_id=object_id,
        envelope_id=envelope_id,
        requested_from=requested_from,
        requested_to=requested_to,
        replay_id=replay_id,
    )
    rows = await list_runs(conn, filters=filters, limit=limit + 1, before_id=before_id)
    page, next_cursor = page_of(rows, limit)
    return RunPage(
        items=[RunPublic.model_validate(with_dagster_url(settings, row)) for row in page],
        next_cursor=next_cursor,
    )


@router.get("/runs/{workflow_run_id}", response_model=RunDetail)
async def get_workflow_run(
    conn: ConnectionDep,
    settings: SettingsDep,
    workflow_run_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> RunDetail:
    """One workflow run: its events, steps, state summary, Dagster runs, exceptions and
    approvals."""
    row = await get_run_detail(conn, workflow_run_id)
    if row is None:
        raise ApiError(404, "not_found", f"no workflow run with id {workflow_run_id}")
    bind_run_to_request(workflow_run_id, row["correlation_id"])
    attempts = await attempts_of_run(conn, workflow_run_id)
    return RunDetail.model_validate(
        {
            **with_dagster_url(settings, row),
            "events": await envelopes_by_id(conn, row["envelope_ids"]),
            "attempts": [with_dagster_url(settings, a) for a in attempts],
            "exceptions": await exceptions_of_run(conn, workflow_run_id),
            "approvals": await approvals_of_run(conn, workflow_run_id),
        }
    )
