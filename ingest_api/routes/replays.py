"""POST /api/replays (a dry-run plan, or a replay), GET /api/replays and /api/replays/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from ingest_api.auth.access import ActorDep, authorize
from ingest_api.deps import ConnectionDep, PolicyDep
from ingest_api.errors import ApiError
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID
from orchestrator_core.logging import get_logger
from orchestrator_core.queries.replays import get_replay, list_replays
from orchestrator_core.records.replays import (
    ENVELOPE_STATUSES,
    MAX_REPLAY_EVENTS,
    Selection,
    plan_replay,
    start_replay,
)

router = APIRouter(prefix="/api", tags=["replays"], dependencies=[Depends(authorize)])

MAX_PAGE = 200
# Correlation ids named on a replay's log line: a replay may start thousands of runs.
LOGGED_CORRELATION_IDS = 100

log = get_logger(__name__)

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,80}$")]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class ObjectRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object_type: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")] = Field(
        examples=["company"]
    )
    object_id: Id


class ReplayRequest(BaseModel):
    """Which stored events to replay: ids, objects or `since` select (at least one), the other
    fields narrow. `occurred_at` is HubSpot's time of the change."""

    model_config = ConfigDict(extra="forbid")

    envelope_ids: Annotated[list[Id], Field(max_length=MAX_REPLAY_EVENTS)] = []
    objects: Annotated[list[ObjectRef], Field(max_length=MAX_REPLAY_EVENTS)] = []
    since: AwareDatetime | None = Field(None, description="occurred at ≥ (with a time zone)")
    until: AwareDatetime | None = Field(None, description="occurred at < (with a time zone)")
    subscription_types: Annotated[list[Name], Field(max_length=50)] = []
    workflows: Annotated[list[Name], Field(max_length=10)] = []
    statuses: Annotated[list[Name], Field(max_length=len(ENVELOPE_STATUSES))] = Field(
        [], examples=[["failed"]]
    )
    dry_run: StrictBool = Field(False, description="answer the plan only; change nothing")

    def selection(self) -> Selection:
        return Selection(
            envelope_ids=tuple(dict.fromkeys(self.envelope_ids)),
            objects=tuple(dict.fromkeys((o.object_type, o.object_id) for o in self.objects)),
            since=self.since,
            until=self.until,
            subscription_types=tuple(self.subscription_types),
            workflows=tuple(self.workflows),
            statuses=tuple(self.statuses),
        )


class PlannedWritePublic(BaseModel):
    step: str
    what: str
    # reuse: taken from the ledger, not written again; reapply: an idempotent upsert written
    # again; new: not written before, written if the run reaches it
    action: str
    target: str | None
    external_id: str | None
    ledger_id: int | None


class PlannedRunPublic(BaseModel):
    workflow: str
    object_type: str | None
    object_id: int | None
    envelope_ids: list[int]
    rules: list[str]
    replay_of: int | None  # the original run replayed (None: no earlier run)
    previous_run_id: int | None
    previous_status: str | None
    writes: list[PlannedWritePublic]


class SkippedPublic(BaseModel):
    envelope_id: int
    reason: str


class PlanPublic(BaseModel):
    counts: dict[str, int]
    runs: list[PlannedRunPublic]
    skipped: list[SkippedPublic]


class ReplaySummary(BaseModel):
    id: int
    actor: str
    source: str  # operator, exception (a fix action), drift (a repair)
    selection: dict[str, Any]
    counts: dict[str, int]
    created_at: datetime


class ReplayRunPublic(BaseModel):
    id: int
    workflow: str
    status: str
    outcome: str | None
    object_type: str | None
    object_id: int | None
    replay_of: int | None
    parent_id: int | None
    envelope_ids: list[int]
    dagster_run_id: str | None
    requested_at: datetime
    finished_at: datetime | None


class ReplayProgress(BaseModel):
    runs: int
    by_status: dict[str, int]
    finished: int
    done: bool  # every run finished or waits for a person


class ReplayDetail(ReplaySummary):
    progress: ReplayProgress
    runs: list[ReplayRunPublic]  # the first 500, in order


class ReplayAnswer(BaseModel):
    dry_run: bool
    plan: PlanPublic
    replay: ReplayDetail | None  # None for a dry run


class ReplayPage(BaseModel):
    items: list[ReplaySummary]
    next_cursor: int | None


@router.post(
    "/replays",
    response_model=ReplayAnswer,
    responses={202: {"description": "the replay is stored; its runs start shortly"}},
    description=(
        "Replay stored events under the current policy. With `dry_run` the answer is the plan"
        " only: per run to start, every write of its workflow and whether it is reused from"
        " the ledger, re-applied (idempotent) or new. Otherwise the replay is stored with its"
        " runs (202) and the event sensor launches them; follow it at `GET /api/replays/{id}`."
        " Calendar events, notes, purchase orders and budget commitments are never made twice."
    ),
)
async def replay(
    conn: ConnectionDep,
    policy: PolicyDep,
    actor: ActorDep,
    body: ReplayRequest,
    response: Response,
) -> ReplayAnswer:
    selection = body.selection()
    if body.dry_run:
        plan = await plan_replay(conn, policy, selection)
        return ReplayAnswer(
            dry_run=True, plan=PlanPublic.model_validate(plan.as_json()), replay=None
        )
    started = await start_replay(
        conn, policy, selection, actor=actor.recorded_as, source="operator"
    )
    log.info(
        "replay started",
        replay_id=started.id,
        runs=started.runs_started,
        correlation_ids=started.correlation_ids[:LOGGED_CORRELATION_IDS],
        correlation_ids_total=len(started.correlation_ids),
    )
    detail = await get_replay(conn, started.id)
    assert detail is not None
    response.status_code = 202
    response.headers["Location"] = f"/api/replays/{started.id}"
    return ReplayAnswer(
        dry_run=False,
        plan=PlanPublic.model_validate(started.plan.as_json()),
        replay=ReplayDetail.model_validate(detail),
    )


@router.get("/replays", response_model=ReplayPage)
async def replays(
    conn: ConnectionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="cursor from the previous page")
    ] = None,
) -> ReplayPage:
    """Replays, newest first."""
    rows = await list_replays(conn, limit=limit + 1, before_id=before_id)
    page, next_cursor = page_of(rows, limit)
    return ReplayPage(
        items=[ReplaySummary.model_validate(row) for row in page], next_cursor=next_cursor
    )


@router.get("/replays/{replay_id}", response_model=ReplayDetail)
async def replay_detail(
    conn: ConnectionDep, replay_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> ReplayDetail:
    """One replay: who asked, what was selected, the plan's counts, and its runs' progress."""
    row = await get_replay(conn, replay_id)
    if row is None:
        raise ApiError(404, "not_found", f"no replay with id {replay_id}")
    return ReplayDetail.model_validate(row)
