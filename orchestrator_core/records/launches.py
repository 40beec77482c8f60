"""Which requested workflow runs are launched now, and how: alone, or several in one batch.

`due_launches` picks the requested runs that may start, in id order:

- **One run per HubSpot object at a time, in order.** A run waits while another run of its
  object is running, an earlier one is still requested, or a parked one has a decision its
  continuation has not picked up yet. So a batch never holds two runs of one object, and a
  later change of an object is never applied before an earlier one.
- **Alone when idle, batched under load.** Due runs of one workflow are grouped: a lone run
  gets its own Dagster run at once (run key: the workflow run's key); two or more become
  batches of at most `batch_max` runs (table `run_batches`; run key `batch:<id>`), while fewer
  than `batches_in_flight` batches hold a slot, so a backlog never fills Dagster's run queue
  ahead of everything else. A started batch with no more runs left than it works at once
  (`batch_concurrency`: its last round) gives its slot up, so the next batch's process starts
  while it finishes instead of after. While a batch of a workflow is unfinished, its next runs
  wait for the next batch rather than start alone beside it. Runs that wait for a batch slot
  stay requested for a later tick.
- **Asked again when lost.** A run (or a whole batch) asked for over `again_after_seconds` ago
  that never started is asked for again, under the same run key, so Dagster launches it once.
  A run belongs to at most one batch, for ever.

The approval sensor takes the same launch lock (`hold_launch_lock`), so the two sensors never
decide about one object at the same moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from orchestrator_core.db.locks import lock_key

_LAUNCH_LOCK = lock_key("orchestrator.launches", "sensors")

# A run whose object is busy: another run of it running, an earlier one requested, or a parked
# one decided (no approval of it pending) whose continuation has not taken over yet. `r` is the
# candidate run.
OBJECT_BUSY = """
EXISTS (
    SELECT 1 FROM orchestrator.workflow_runs o
    WHERE o.object_type = r.object_type AND o.object_id = r.object_id AND o.id <> r.id
      AND (o.status = 'running'
           OR (o.status = 'requested' AND o.id < r.id)
           OR (o.status = 'awaiting_approval' AND NOT EXISTS (
                   SELECT 1 FROM orchestrator.approvals a
                   WHERE a.workflow_run_id = o.id AND a.status = 'pending')))
)
"""

# The first due runs of each workflow, each workflow's first before anyone's second: a backlog
# of one workflow never hides the runs of the others. (No row locks: the launch lock
# serializes everything that launches.)
_DUE_RUNS = f"""
SELECT * FROM (
    SELECT r.id, r.run_key, r.workflow, r.thread_id, r.portal_id, r.object_type, r.object_id,
           r.correlation_id, r.envelope_ids, r.trigger, r.policy_version, r.retries,
           r.replay_id, r.replay_of,
           row_number() OVER (PARTITION BY r.workflow ORDER BY r.id) AS rank
    FROM orchestrator.workflow_runs r
    WHERE r.status = 'requested' AND r.batch_id IS NULL
      AND (r.last_requested_at IS NULL
           OR r.last_requested_at < now() - %(again_after)s * interval '1 second')
      AND NOT {OBJECT_BUSY}
) due
WHERE rank <= %(per_workflow)s
ORDER BY rank, id
LIMIT %(limit)s
"""

_LOST_BATCHES = """
SELECT id, workflow, phase, workflow_run_ids,
       ARRAY(SELECT DISTINCT w.correlation_id::text FROM orchestrator.workflow_runs w
             WHERE w.id = ANY(run_batches.workflow_run_ids) AND w.correlation_id IS NOT NULL
             ORDER BY 1) AS correlation_ids
FROM orchestrator.run_batches
WHERE started_at IS NULL AND finished_at IS NULL
  AND last_requested_at < now() - %(again_after)s * interval '1 second'
ORDER BY id
FOR UPDATE SKIP LOCKED
"""

# Per workflow: its unfinished batches, and those holding a batch slot: not started yet, or with
# more runs left than one round of the batch's concurrency (`tail`).
_UNFINISHED_BATCHES = """
SELECT b.workflow, count(*) AS count,
       count(*) FILTER (WHERE b.started_at IS NULL OR (
           SELECT count(*) FROM orchestrator.workflow_runs w
           WHERE w.batch_id = b.id AND w.status IN ('requested', 'running')) > %(tail)s
       ) AS holding
FROM orchestrator.run_batches b WHERE b.finished_at IS NULL
GROUP BY b.workflow
"""


@dataclass(frozen=True)
class RunRequestSpec:
    """A workflow run to launch on its own; the sensor turns it into a `RunRequest`."""

    workflow_run_id: int
    run_key: str
    workflow: str
    thread_id: str
    portal_id: int | None
    object_type: str | None
    object_id: int | None
    correlation_id: str | None
    envelope_ids: tuple[int, ...]
    event_ids: tuple[int, ...]
    subscription_types: tuple[str, ...]
    policy_version: str
    # how often an operator asked for the failed run again, and the replay it belongs to
    retries: int = 0
    replay_id: int | None = None
    replay_of: int | None = None

    @property
    def dagster_run_key(self) -> str:
        """The run key Dagster dedups on: a retry asked for by an operator is a new Dagster
        run of the same workflow run (which resumes from its checkpoint)."""
        return self.run_key if self.retries == 0 else f"{self.run_key}#retry-{self.retries}"


@dataclass(frozen=True)
class BatchSpec:
    """Workflow runs of one workflow to launch together in one Dagster run."""

    batch_id: int
    workflow: str
    phase: str
    workflow_run_ids: tuple[int, ...]
    # the replay all its runs belong to, if they belong to one
    replay_id: int | None = None
    # its runs' correlation ids (for the sensor's log line; at most `batch_max` of them)
    correlation_ids: tuple[str, ...] = ()

    @property
    def run_key(self) -> str:
        return f"batch:{self.batch_id}"


Launch = RunRequestSpec | BatchSpec


def hold_launch_lock(conn: psycopg.Connection[Any]) -> None:
    """Serialize launch decisions until the caller's transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LAUNCH_LOCK,))


def due_launches(
    conn: psycopg.Connection[Any],
    *,
    limit: int,
    again_after_seconds: float,
    batch_max: int,
    batches_in_flight: int,
    batch_concurrency: int,
) -> list[Launch]:
    """The runs (and batches) to ask Dagster for now, marked asked for; see the module doc."""
    if batch_max < 1 or batches_in_flight < 1 or batch_concurrency < 1:
        raise ValueError("batch_max, batches_in_flight and batch_concurrency must be at least 1")
    params = {
        "limit": limit,
        "again_after": again_after_seconds,
        "tail": batch_concurrency,
        # Enough to fill every batch slot; without batching, lone runs are not slot-bound.
        "per_workflow": limit if batch_max == 1 else batch_max * batches_in_flight,
    }
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        hold_launch_lock(conn)
        lost = cur.execute(_LOST_BATCHES, params).fetchall()
        if lost:
            cur.execute(
                "UPDATE orchestrator.run_batches SET last_requested_at = now() WHERE id = ANY(%s)",
                ([row["id"] for row in lost],),
            )
        launches: list[Launch] = [_batch_spec(row) for row in lost]
        rows = sorted(cur.execute(_DUE_RUNS, params).fetchall(), key=lambda row: row["id"])
        unfinished = cur.execute(_UNFINISHED_BATCHES, params).fetchall()
        batching = {row["workflow"] for row in unfinished}
        free_batch_slots = max(0, batches_in_flight - sum(row["holding"] for row in unfinished))
        alone: list[dict[str, Any]] = []
        for group in _by_workflow(rows):
            if batch_max == 1:  # batching switched off
                alone += group
                continue
            if len(group) == 1 and group[0]["workflow"] not in batching:  # idle
                alone += group
                continue
            for chunk in _chunks(group, batch_max):
                if free_batch_slots == 0:
                    break  # they stay requested; a later tick batches them
                launches.append(_new_batch(cur, chunk))
                free_batch_slots -= 1
        if alone:
            cur.execute(
                "UPDATE orchestrator.workflow_runs SET last_requested_at = now(),"
                " updated_at = now() WHERE id = ANY(%s)",
                ([row["id"] for row in alone],),
            )
        launches += [_run_spec(row) for row in alone]
    return launches


def _by_workflow(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["workflow"], []).append(row)
    return list(groups.values())


def _chunks(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def _new_batch(cur: psycopg.Cursor[dict[str, Any]], rows: list[dict[str, Any]]) -> BatchSpec:
    ids = [row["id"] for row in rows]
    created = cur.execute(
        "INSERT INTO orchestrator.run_batches (workflow, phase, workflow_run_ids)"
        " VALUES (%s, 'start', %s) RETURNING id, workflow, phase, workflow_run_ids",
        (rows[0]["workflow"], ids),
    ).fetchone()
    assert created is not None
    replays = {row["replay_id"] for row in rows}
    created["replay_id"] = replays.pop() if len(replays) == 1 else None
    created["correlation_ids"] = sorted(
        {str(row["correlation_id"]) for row in rows if row["correlation_id"]}
    )
    cur.execute(
        "UPDATE orchestrator.workflow_runs SET batch_id = %s, last_requested_at = now(),"
        " updated_at = now() WHERE id = ANY(%s)",
        (created["id"], ids),
    )
    return _batch_spec(created)


def _batch_spec(row: dict[str, Any]) -> BatchSpec:
    return BatchSpec(
        batch_id=row["id"],
        workflow=row["workflow"],
        phase=row["phase"],
        workflow_run_ids=tuple(row["workflow_run_ids"]),
        replay_id=row.get("replay_id"),
        correlation_ids=tuple(row.get("correlation_ids") or ()),
    )


def _run_spec(row: dict[str, Any]) -> RunRequestSpec:
    events = row["trigger"].get("events", [])
    return RunRequestSpec(
        workflow_run_id=row["id"],
        run_key=row["run_key"],
        workflow=row["workflow"],
        thread_id=row["thread_id"],
        portal_id=row["portal_id"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        correlation_id=str(row["correlation_id"]) if row["correlation_id"] else None,
        envelope_ids=tuple(row["envelope_ids"]),
        event_ids=tuple(e["event_id"] for e in events),
        subscription_types=tuple(dict.fromkeys(e["subscription_type"] for e in events)),
        policy_version=row["policy_version"],
        retries=row["retries"],
        replay_id=row["replay_id"],
        replay_of=row["replay_of"],
    )
