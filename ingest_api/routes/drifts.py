"""GET /api/drifts, GET /api/drifts/{id}, POST /api/drifts/{id}/repair, POST /api/drifts/repair:
the differences reconciliation found between HubSpot and its mirrors, and their repair."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest_api.auth.access import ActorDep, authorize
from ingest_api.deps import ConnectionDep, PolicyDep
from ingest_api.errors import ApiError
from ingest_api.paging import page_of
from ingest_api.params import MAX_ID
from orchestrator_core.queries.drifts import get_drift, list_drifts
from orchestrator_core.reconciliation.causes import Cause
from orchestrator_core.reconciliation.compare import DriftKind
from orchestrator_core.reconciliation.mirrors import Target
from orchestrator_core.reconciliation.repair import RepairOutcome, repair_drifts

router = APIRouter(prefix="/api", tags=["drifts"], dependencies=[Depends(authorize)])

MAX_PAGE = 500
MAX_REPAIR = 500

DriftStatus = Literal["open", "repairing", "resolved"]
ObjectType = Literal["company", "contact", "deal"]
System = Literal["airtable", "google"]


class DriftPublic(BaseModel):
    id: int
    kind: str
    status: str
    system: str
    target: str  # the mirror asset: airtable/accounts, airtable/contacts, google/calendar_events
    object_type: str | None
    object_id: int | None
    downstream_id: str | None  # the Airtable record id or calendar event id
    field: str | None
    hubspot_value: Any
    downstream_value: Any
    cause: str
    # why, in a sentence (`summary`), and the evidence: last run, open exception, our last
    # write, the events received, the times compared
    cause_details: dict[str, Any]
    first_reconciliation_id: int
    last_reconciliation_id: int
    repair_replay_id: int | None
    repaired_by: str | None
    resolution: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None


class DriftPage(BaseModel):
    items: list[DriftPublic]
    next_cursor: int | None  # pass as `before_id` for the next page


class RepairStarted(BaseModel):
    drift: DriftPublic
    replay_id: int
    runs_started: int


class DriftFilter(BaseModel):
    """Open drifts matching every field given."""

    model_config = ConfigDict(extra="forbid")

    kind: DriftKind | None = None
    cause: Cause | None = None
    object_type: ObjectType | None = None
    object_id: int | None = Field(default=None, ge=1)
    system: System | None = None
    target: Target | None = None


class BulkRepairRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1)]] | None = Field(
        default=None, min_length=1, max_length=MAX_REPAIR
    )
    filter: DriftFilter | None = Field(
        default=None, description=f"open drifts matching it, the newest {MAX_REPAIR}"
    )

    @model_validator(mode="after")
    def _one_selection(self) -> BulkRepairRequest:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either `ids` or `filter`, not both and not neither")
        return self


class RepairOutcomePublic(BaseModel):
    drift_id: int
    status: Literal["repairing", "refused"]
    code: str | None  # why it was refused
    message: str | None
    replay_id: int | None


class BulkRepairResult(BaseModel):
    replay_id: int | None
    runs_started: int
    repairing: int
    refused: int
    results: list[RepairOutcomePublic]


@router.get("/drifts", response_model=DriftPage)
async def drifts(
    conn: ConnectionDep,
    status: DriftStatus | None = None,
    kind: DriftKind | None = None,
    cause: Cause | None = None,
    object_type: ObjectType | None = None,
    object_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    system: System | None = None,
    target: Target | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="cursor from the previous page")
    ] = None,
) -> DriftPage:
    """Drifts, newest first, filtered; page with `next_cursor` → `before_id`."""
    rows = await list_drifts(
        conn,
        status=status,
        kind=kind,
        cause=cause,
        object_type=object_type,
        object_id=object_id,
        system=system,
        target=target,
        limit=limit + 1,
        before_id=before_id,
    )
    page, next_cursor = page_of(rows, limit)
    return DriftPage(
        items=[DriftPublic.model_validate(row) for row in page], next_cursor=next_cursor
    )


# `:int`: GET /api/drifts/repair is the repair route's (405), not drift "repair" (422).
@router.get("/drifts/{drift_id:int}", response_model=DriftPublic)
async def drift(
    conn: ConnectionDep, drift_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> DriftPublic:
    row = await get_drift(conn, drift_id)
    if row is None:
        raise ApiError(404, "not_found", f"no drift with id {drift_id}")
    return DriftPublic.model_validate(row)


@router.post(
    "/drifts/{drift_id}/repair",
    response_model=RepairStarted,
    description=(
        "Re-apply HubSpot's values: a replay of the object's stored events under the current"
        " policy (source `drift`). 409 when the drift cannot be repaired that way, with the fix"
        " to apply instead (an orphan or duplicate row is deleted by hand; an object with no"
        " stored event is recovered with `orchestrator recover --since …`)."
    ),
)
async def repair(
    conn: ConnectionDep,
    policy: PolicyDep,
    actor: ActorDep,
    drift_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> RepairStarted:
    result = await repair_drifts(conn, policy, [drift_id], actor=actor.recorded_as)
    (outcome,) = result.outcomes
    if outcome.status == "refused":
        status = 404 if outcome.code == "not_found" else 409
        raise ApiError(
            status,
            outcome.code or "refused",
            outcome.message or "refused",
            details={"replay_id": outcome.replay_id} if outcome.replay_id else None,
        )
    assert result.replay is not None
    row = await get_drift(conn, drift_id)
    assert row is not None
    return RepairStarted(
        drift=DriftPublic.model_validate(row),
        replay_id=result.replay.id,
        runs_started=result.replay.runs_started,
    )


@router.post(
    "/drifts/repair",
    response_model=BulkRepairResult,
    description=(
        f"Repair up to {MAX_REPAIR} drifts at once, by `ids` or by `filter` (open drifts only):"
        " one replay for all their objects. Each drift's result says whether it is repairing"
        " or why it was refused."
    ),
)
async def repair_many(
    conn: ConnectionDep, policy: PolicyDep, actor: ActorDep, body: BulkRepairRequest
) -> BulkRepairResult:
    if body.ids is not None:
        ids = body.ids
    else:
        assert body.filter is not None
        rows = await list_drifts(conn, status="open", limit=MAX_REPAIR, **body.filter.model_dump())
        ids = [row["id"] for row in rows]
    result = await repair_drifts(conn, policy, ids, actor=actor.recorded_as)
    results = [_outcome(o) for o in result.outcomes]
    repairing = sum(o.status == "repairing" for o in result.outcomes)
    return BulkRepairResult(
        replay_id=result.replay.id if result.replay else None,
        runs_started=result.replay.runs_started if result.replay else 0,
        repairing=repairing,
        refused=len(results) - repairing,
        results=results,
    )


def _outcome(outcome: RepairOutcome) -> RepairOutcomePublic:
    return RepairOutcomePublic(
        drift_id=outcome.drift_id,
        status=outcome.status,
        code=outcome.code,
        message=outcome.message,
        replay_id=outcome.replay_id,
    )
