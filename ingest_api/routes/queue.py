"""GET /api/queue: how much work is waiting right now, to watch a backlog drain."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from ingest_api.auth.access import authorize
from ingest_api.deps import ConnectionDep
from ingest_api.params import MAX_ID
from orchestrator_core.queries.queue import read_queue

router = APIRouter(prefix="/api", tags=["queue"], dependencies=[Depends(authorize)])


class QueueEnvelopesPublic(BaseModel):
    """Events not worked through yet."""

    received: int  # stored, not routed yet
    dispatched: int  # routed to workflow runs that have not finished
    # the oldest of them: when it was received, and how long ago (whole seconds)
    oldest_received_at: datetime | None
    oldest_age_seconds: int | None
    # the newest envelope's id: pass it as `since_envelope_id` to the next reading
    newest_id: int | None
    # envelopes received after `since_envelope_id` (null without it)
    received_since: int | None


class QueueWorkflowPublic(BaseModel):
    workflow: str
    requested: int
    running: int
    requested_in_batch: int  # requested ones already assigned to a batch run


class QueueRunsPublic(BaseModel):
    """Workflow runs waiting for a Dagster run (`requested`) or in one (`running`)."""

    requested: int
    running: int
    requested_in_batch: int
    by_workflow: list[QueueWorkflowPublic]  # workflows with runs requested or running


class QueueBatchPublic(BaseModel):
    id: int
    workflow: str
    phase: str  # start, continuation
    size: int  # workflow runs in the batch
    requested_at: datetime
    started_at: datetime | None  # null: waiting for its Dagster run
    dagster_run_id: str | None


class QueueBatchesPublic(BaseModel):
    """Batch runs asked for and not finished."""

    in_flight: int
    started: int
    waiting: int
    runs: int  # workflow runs in them
    oldest: list[QueueBatchPublic]  # the oldest batches in flight, at most 50


class QueuePublic(BaseModel):
    read_at: datetime  # the database's clock
    # nothing received or dispatched, no run requested or running, no batch in flight
    empty: bool
    envelopes: QueueEnvelopesPublic
    runs: QueueRunsPublic
    batches: QueueBatchesPublic
    parked_runs: int  # awaiting an approval
    pending_approvals: int


@router.get("/queue", response_model=QueuePublic)
async def get_queue(
    conn: ConnectionDep,
    since_envelope_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_ID,
            description="an earlier reading's `envelopes.newest_id`: also count the envelopes"
            " received since (with the two backlogs, how many left the queue in between)",
        ),
    ] = None,
) -> QueuePublic:
    """The queue now, on the database's clock: events received or dispatched and the age of the
    oldest, workflow runs requested and running (per workflow, and how many are in a batch),
    batch runs in flight (the oldest listed), runs parked at an approval, approvals pending."""
    reading = await read_queue(conn, since_envelope_id=since_envelope_id)
    return QueuePublic.model_validate(asdict(reading))
