"""The queue now, for `GET /api/queue` and `orchestrator status`: the events not worked through
yet, the workflow runs waiting for or in a Dagster run (per workflow), the batch runs in flight,
the runs parked at an approval, read on the database's clock.

One statement, so every count comes from one snapshot: a run that moves from requested to
running while the queue is read is counted once, in one of the two. Each part reads an index
whose size follows the backlog, not the tables' history (EXPLAIN on 100,000 rows per table):

- envelopes received and dispatched: `event_envelopes_status_id` (status, id), index only;
  the oldest of each status, one probe each: `event_envelopes_received` (partial) and
  `event_envelopes_status_id`;
- runs requested and running, per workflow: `workflow_runs_in_progress` (partial);
- runs parked: `workflow_runs_status` (status, id); approvals pending: `approvals_status`;
- the newest envelope id, and the envelopes after an id: the primary key;
- batches in flight: no index has `finished_at IS NULL`, so `run_batches` is scanned once
  (one row per batch, not per run: about 7 ms per 100,000 batches).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

# Batches in flight listed one by one, oldest first (the counts cover them all).
BATCHES_LISTED = 50


@dataclass(frozen=True)
class EnvelopeBacklog:
    """The events not worked through yet (status `received` or `dispatched`)."""

    received: int
    dispatched: int
    # when the oldest of them was received, and how long ago, in whole seconds
    oldest_received_at: datetime | None
    oldest_age_seconds: int | None
    # the newest envelope's id, received or not: the next reading's `since_envelope_id`
    newest_id: int | None
    # envelopes received after `since_envelope_id`, when it was given
    received_since: int | None

    @property
    def total(self) -> int:
        return self.received + self.dispatched


@dataclass(frozen=True)
class WorkflowRunBacklog:
    """Workflow runs of one workflow waiting for a Dagster run (`requested`) or in one."""

    workflow: str
    requested: int
    running: int
    requested_in_batch: int  # requested ones already assigned to a batch run


@dataclass(frozen=True)
class RunBacklog:
    requested: int
    running: int
    requested_in_batch: int
    by_workflow: tuple[WorkflowRunBacklog, ...]  # workflows with runs requested or running


@dataclass(frozen=True)
class BatchInFlight:
    """A batch run asked for and not finished."""

    id: int
    workflow: str
    phase: str
    size: int  # its workflow runs
    requested_at: datetime
    started_at: datetime | None  # None: waiting for its Dagster run to start
    dagster_run_id: str | None


@dataclass(frozen=True)
class BatchBacklog:
    in_flight: int
    started: int
    waiting: int
    runs: int  # workflow runs in the batches in flight
    oldest: tuple[BatchInFlight, ...]  # at most BATCHES_LISTED, oldest first


@dataclass(frozen=True)
class QueueReading:
    read_at: datetime  # the database's clock
    # nothing received or dispatched, no run requested or running, no batch in flight
    # (parked runs wait for a person, not for the queue)
    empty: bool
    envelopes: EnvelopeBacklog
    runs: RunBacklog
    batches: BatchBacklog
    parked_runs: int  # awaiting_approval
    pending_approvals: int


_OLDEST = (
    "(SELECT received_at FROM orchestrator.event_envelopes WHERE status = '{status}'"
    " ORDER BY id LIMIT 1)"
)

_SQL = f"""
WITH oldest AS MATERIALIZED (
       -- the first by id of each backlog status: the oldest (ids and receipt times grow
       -- together), found by two index probes instead of reading the whole backlog
       SELECT least({_OLDEST.format(status="received")},
                    {_OLDEST.format(status="dispatched")}) AS received_at),
     batches AS MATERIALIZED (  -- one pass over run_batches
       SELECT id, workflow, phase, cardinality(workflow_run_ids) AS size, requested_at,
              started_at, dagster_run_id
         FROM orchestrator.run_batches WHERE finished_at IS NULL)
SELECT now() AS read_at, e.received, e.dispatched, oldest.received_at AS oldest_received_at,
       floor(extract(epoch FROM now() - oldest.received_at))::bigint AS oldest_age_seconds,
       (SELECT max(id) FROM orchestrator.event_envelopes) AS newest_id,
       {{received_since}} AS received_since,
       (SELECT coalesce(jsonb_agg(w ORDER BY w.workflow), '[]'::jsonb)
          FROM (SELECT workflow,
                       count(*) FILTER (WHERE status = 'requested') AS requested,
                       count(*) FILTER (WHERE status = 'running') AS running,
                       count(*) FILTER (WHERE status = 'requested' AND batch_id IS NOT NULL)
                         AS requested_in_batch
                  FROM orchestrator.workflow_runs WHERE status IN ('requested', 'running')
                 GROUP BY workflow) w) AS by_workflow,
       (SELECT count(*) FROM batches) AS batches_in_flight,
       (SELECT count(started_at) FROM batches) AS batches_started,
       (SELECT coalesce(sum(size), 0) FROM batches) AS batch_runs,
       (SELECT coalesce(jsonb_agg(x ORDER BY x.id), '[]'::jsonb)
          FROM (SELECT * FROM batches ORDER BY id LIMIT {BATCHES_LISTED}) x) AS batches_listed,
       (SELECT count(*) FROM orchestrator.workflow_runs
         WHERE status = 'awaiting_approval') AS parked_runs,
       (SELECT count(*) FROM orchestrator.approvals WHERE status = 'pending') AS pending_approvals
  FROM (SELECT count(*) FILTER (WHERE status = 'received') AS received,
               count(*) FILTER (WHERE status = 'dispatched') AS dispatched
          FROM orchestrator.event_envelopes WHERE status IN ('received', 'dispatched')) e,
       oldest
"""

_SINCE = "(SELECT count(*) FROM orchestrator.event_envelopes WHERE id > %(since)s)"


def queue_sql(*, with_since: bool) -> str:
    """The statement `read_queue` runs (also for EXPLAIN)."""
    return _SQL.format(received_since=_SINCE if with_since else "NULL::bigint")


async def read_queue(
    conn: AsyncConnection[Any], *, since_envelope_id: int | None = None
) -> QueueReading:
    """The queue now. With `since_envelope_id` (an earlier reading's `envelopes.newest_id`),
    also how many envelopes arrived since: with the two backlogs, how many left the queue."""
    params = {} if since_envelope_id is None else {"since": since_envelope_id}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(queue_sql(with_since=since_envelope_id is not None), params or None)
        row = await cur.fetchone()
    assert row is not None  # an aggregate over constants: always one row
    return _reading(row)


def _reading(row: dict[str, Any]) -> QueueReading:
    by_workflow = tuple(WorkflowRunBacklog(**w) for w in row["by_workflow"])
    envelopes = EnvelopeBacklog(
        received=row["received"],
        dispatched=row["dispatched"],
        oldest_received_at=row["oldest_received_at"],
        oldest_age_seconds=row["oldest_age_seconds"],
        newest_id=row["newest_id"],
        received_since=row["received_since"],
    )
    runs = RunBacklog(
        requested=sum(w.requested for w in by_workflow),
        running=sum(w.running for w in by_workflow),
        requested_in_batch=sum(w.requested_in_batch for w in by_workflow),
        by_workflow=by_workflow,
    )
    batches = BatchBacklog(
        in_flight=row["batches_in_flight"],
        started=row["batches_started"],
        waiting=row["batches_in_flight"] - row["batches_started"],
        runs=int(row["batch_runs"]),  # sum() of bigint is numeric
        oldest=tuple(_batch(x) for x in row["batches_listed"]),
    )
    return QueueReading(
        read_at=row["read_at"],
        empty=envelopes.total == 0
        and runs.requested + runs.running == 0
        and batches.in_flight == 0,
        envelopes=envelopes,
        runs=runs,
        batches=batches,
        parked_runs=row["parked_runs"],
        pending_approvals=row["pending_approvals"],
    )


def _batch(item: dict[str, Any]) -> BatchInFlight:
    """A batch from its jsonb form (timestamps as ISO 8601 text)."""
    started_at = item["started_at"]
    return BatchInFlight(
        id=item["id"],
        workflow=item["workflow"],
        phase=item["phase"],
        size=item["size"],
        requested_at=datetime.fromisoformat(item["requested_at"]),
        started_at=None if started_at is None else datetime.fromisoformat(started_at),
        dagster_run_id=item["dagster_run_id"],
    )
