"""Workflow runs in Postgres: their lifecycle as the Dagster side drives them, and how their
status flows back to the envelopes that started them.

A workflow run is `requested` (by the event sensor or by another run), `running` (a Dagster run
is working on it), `awaiting_approval` (its graph is parked at an interrupt), `succeeded` or
`failed`. Each Dagster run that works on it is an attempt. Every status change also recomputes
the status of the run's envelopes, in the same transaction.

Every change of a run's or an envelope's status is appended to the audit log in its transaction,
last: `run.launched` (a run created by the event sensor's dispatch or requested by another run),
`run.started`, `run.parked`, `run.finished` (succeeded or failed) and `event.status_changed`.
Recording a status the run already has (an op retry, an end recorded again) appends nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row, tuple_row
from pydantic import JsonValue

from orchestrator_core import audit
from orchestrator_core.db.columns import columns_of
from orchestrator_core.db.json import jsonb
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records.keys import run_key_for_request, thread_id_for
from orchestrator_core.records.settlement import settle_actions

RunStatus: TypeAlias = Literal["requested", "running", "awaiting_approval", "succeeded", "failed"]
AttemptKind: TypeAlias = Literal["start", "resume", "continuation"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})


@dataclass(frozen=True)
class WorkflowRun:
    """One row of orchestrator.workflow_runs."""

    id: int
    run_key: str
    workflow: str
    thread_id: str
    portal_id: int | None
    object_type: str | None
    object_id: int | None
    correlation_id: uuid.UUID | None
    envelope_ids: list[int]
    trigger: dict[str, Any]
    parent_id: int | None
    status: RunStatus
    outcome: str | None
    outcome_message: str | None
    dagster_run_id: str | None
    steps: list[str]
    state_summary: JsonValue
    policy_version: str
    policy_hash: str
    error: str | None
    requested_at: datetime
    last_requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    # The batch that worked (or will work) this run, when it was not launched on its own.
    batch_id: int | None
    # A replayed run: its replay, and the original run it replays (never itself a replay).
    replay_id: int | None = None
    replay_of: int | None = None
    # Values an operator supplied (an accepted role, a corrected domain), used by the graph
    # instead of what it would infer.
    overrides: dict[str, Any] = field(default_factory=dict)
    # How often an operator asked for this failed run again from its checkpoint.
    retries: int = 0

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def lineage_id(self) -> int:
        """The original run of a replayed run, else the run itself: names derived from it (a
        procurement request id, a purchase order number) stay the same on a replay."""
        return self.replay_of if self.replay_of is not None else self.id

    @property
    def events(self) -> list[dict[str, Any]]:
        """The HubSpot events (as summarised at dispatch) that started this run."""
        events: list[dict[str, Any]] = self.trigger.get("events", [])
        return events


RUN_COLUMNS = columns_of(WorkflowRun)


def object_label(object_type: str | None, object_id: int | None) -> str | None:
    """`type/id` of a run's HubSpot object, as the audit log names it."""
    return None if object_type is None and object_id is None else f"{object_type}/{object_id}"


def launched_entry(
    *,
    workflow_run_id: int,
    workflow: str,
    run_key: str,
    envelope_ids: Sequence[int],
    object_type: str | None,
    object_id: int | None,
    correlation_id: uuid.UUID | None,
    policy_version: str,
    requested_by: dict[str, Any] | None = None,
) -> audit.AuditEntry:
    """The `run.launched` row of a new workflow run; `requested_by` names the run that asked
    for it (`parent_run_id`, `reason`), if another run did."""
    return audit.AuditEntry(
        actor=audit.SYSTEM,
        action="run.launched",
        entity_type="workflow_run",
        entity_id=workflow_run_id,
        after={
            "status": "requested",
            "workflow": workflow,
            "run_key": run_key,
            "envelope_ids": list(envelope_ids),
            "object": object_label(object_type, object_id),
            **(requested_by or {}),
        },
        correlation_id=correlation_id,
        policy_version=policy_version,
    )


# The envelopes are locked (in id order) by a statement of their own, before any audit append:
# an append holds the audit log's lock until commit, so nothing after it may wait for a row lock.
_LOCK_ENVELOPES = """
SELECT id FROM orchestrator.event_envelopes WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id
FOR UPDATE
"""

# Envelope status from the runs it started: in progress while any run is; then failed, then
# awaiting approval, then processed. Returns each envelope whose status changed, with the status
# it replaced.
_REFRESH_ENVELOPES = """
WITH agg AS (
    SELECT e.id, e.status AS previous, e.correlation_id,
           CASE
               WHEN bool_or(r.status IN ('requested', 'running')) THEN 'dispatched'
               WHEN bool_or(r.status = 'failed') THEN 'failed'
               WHEN bool_or(r.status = 'awaiting_approval') THEN 'awaiting_approval'
               ELSE 'processed'
           END AS status
    FROM orchestrator.event_envelopes e
    JOIN orchestrator.workflow_runs r ON r.envelope_ids @> ARRAY[e.id]
    WHERE e.id = ANY(%(ids)s::bigint[])
      -- a run replayed since (for this envelope) no longer speaks for it
      AND NOT EXISTS (
          SELECT 1 FROM orchestrator.workflow_runs n
          WHERE n.replay_of = coalesce(r.replay_of, r.id) AND n.id > r.id
            AND n.envelope_ids @> ARRAY[e.id])
    GROUP BY e.id, e.status, e.correlation_id
)
UPDATE orchestrator.event_envelopes AS e
SET status = agg.status, updated_at = now()
FROM agg
WHERE e.id = agg.id AND agg.previous IS DISTINCT FROM agg.status
RETURNING e.id, agg.previous, agg.status, agg.correlation_id
"""


def _refresh_envelopes(conn: psycopg.Connection[Any], run: WorkflowRun) -> list[audit.AuditEntry]:
    """Recompute the status of the run's envelopes (locked already by `_LOCK_ENVELOPES`); the
    audit rows of the changes (`event.status_changed`, naming the run that caused them)."""
    if not run.envelope_ids:
        return []
    changed = conn.execute(_REFRESH_ENVELOPES, {"ids": run.envelope_ids}).fetchall()
    return _envelope_entries(changed, run)


def _envelope_entries(changed: Sequence[Any], run: WorkflowRun) -> list[audit.AuditEntry]:
    """`event.status_changed` for each (id, previous, status, correlation id) refreshed."""
    return [
        audit.AuditEntry(
            actor=audit.SYSTEM,
            action="event.status_changed",
            entity_type="event",
            entity_id=envelope_id,
            before={"status": previous},
            after={"status": status, "workflow_run_id": run.id},
            correlation_id=correlation_id,
            policy_version=run.policy_version,
        )
        for envelope_id, previous, status, correlation_id in sorted(changed)
    ]


# The audit action of a change to each status (`requested` is `run.launched` at creation, and
# `run.retry_requested` when an operator asks for a failed run again: `request_retry`).
_STATUS_ACTIONS: dict[str, str] = {
    "running": "run.started",
    "awaiting_approval": "run.parked",
    "succeeded": "run.finished",
    "failed": "run.finished",
}


def get_run(conn: psycopg.Connection[Any], workflow_run_id: int) -> WorkflowRun | None:
    with conn.cursor(row_factory=class_row(WorkflowRun)) as cur:
        return cur.execute(
            f"SELECT {RUN_COLUMNS} FROM orchestrator.workflow_runs WHERE id = %s",
            (workflow_run_id,),
        ).fetchone()


def correlation_ids(
    conn: psycopg.Connection[Any], workflow_run_ids: Sequence[int]
) -> dict[int, str | None]:
    """Each given workflow run's correlation id (for log lines naming the runs)."""
    if not workflow_run_ids:
        return {}
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(
            "SELECT id, correlation_id FROM orchestrator.workflow_runs WHERE id = ANY(%s)",
            (list(workflow_run_ids),),
        ).fetchall()
    return {int(run_id): str(cid) if cid else None for run_id, cid in rows}


def _update_run(
    conn: psycopg.Connection[Any],
    workflow_run_id: int,
    assignments: str,
    params: dict[str, Any],
    *,
    details: dict[str, Any],
) -> WorkflowRun:
    """Update the run and its envelopes' status (in the caller's transaction) and audit what
    changed: the run's status (`details` added to its `after`), then its envelopes'. Every row
    is locked before the first audit append, so concurrent writers audit each change once."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "WITH old AS (SELECT id AS old_id, status AS previous_status"
            " FROM orchestrator.workflow_runs WHERE id = %(id)s FOR UPDATE)"
            f" UPDATE orchestrator.workflow_runs SET {assignments}, updated_at = now()"
            f" FROM old WHERE id = old.old_id RETURNING previous_status, {RUN_COLUMNS}",
            {**params, "id": workflow_run_id},
        ).fetchone()
    if row is None:
        raise LookupError(f"workflow run {workflow_run_id} does not exist")
    previous = row.pop("previous_status")
    run = WorkflowRun(**row)
    if run.envelope_ids:
        conn.execute(_LOCK_ENVELOPES, {"ids": run.envelope_ids})
    entries = _refresh_envelopes(conn, run)
    if previous != run.status:
        # actions on exceptions this run carried: settled now that it ended
        entries += settle_actions(conn, run)
        status_change = audit.AuditEntry(
            actor=audit.SYSTEM,
            action=_STATUS_ACTIONS[run.status],
            entity_type="workflow_run",
            entity_id=run.id,
            before={"status": previous},
            after={"status": run.status, "workflow": run.workflow, **details},
            correlation_id=run.correlation_id,
            policy_version=run.policy_version,
        )
        entries.insert(0, status_change)
    audit.append_all(conn, entries)
    return run


def begin_attempt(
    conn: psycopg.Connection[Any],
    *,
    workflow_run_id: int,
    dagster_run_id: str,
    job_name: str,
    kind: AttemptKind,
) -> WorkflowRun:
    """A Dagster run starts (or, after an op retry, restarts) working on the workflow run."""
    with conn.transaction():
        conn.execute(
            """
            INSERT INTO orchestrator.workflow_run_attempts
                (dagster_run_id, workflow_run_id, kind, job_name, status)
            VALUES (%s, %s, %s, %s, 'running')
            ON CONFLICT (dagster_run_id, workflow_run_id) DO UPDATE
                SET status = 'running', error = NULL, finished_at = NULL
            """,
            (dagster_run_id, workflow_run_id, kind, job_name),
        )
        return _update_run(
            conn,
            workflow_run_id,
            "status = 'running', dagster_run_id = %(dagster_run_id)s, error = NULL,"
            " started_at = coalesce(started_at, now()), finished_at = NULL",
            {"dagster_run_id": dagster_run_id},
            details={"dagster_run_id": dagster_run_id, "job_name": job_name, "attempt": kind},
        )


def record_step(
    conn: psycopg.Connection[Any], *, workflow_run_id: int, dagster_run_id: str, step: str
) -> None:
    """A graph node completed: visible in the API while the run goes on."""
    with conn.transaction():
        conn.execute(
            "UPDATE orchestrator.workflow_runs SET steps = array_append(steps, %s),"
            " updated_at = now() WHERE id = %s",
            (step, workflow_run_id),
        )
        conn.execute(
            "UPDATE orchestrator.workflow_run_attempts SET steps = array_append(steps, %s)"
            " WHERE dagster_run_id = %s AND workflow_run_id = %s",
            (step, dagster_run_id, workflow_run_id),
        )


def _end_attempt(
    conn: psycopg.Connection[Any],
    workflow_run_id: int,
    dagster_run_id: str,
    status: str,
    error: str | None,
) -> None:
    conn.execute(
        "UPDATE orchestrator.workflow_run_attempts SET status = %s, error = %s,"
        " finished_at = now() WHERE dagster_run_id = %s AND workflow_run_id = %s",
        (status, error, dagster_run_id, workflow_run_id),
    )


def park(
    conn: psycopg.Connection[Any],
    *,
    workflow_run_id: int,
    dagster_run_id: str,
    state_summary: JsonValue,
    message: str,
) -> WorkflowRun:
    """The graph stopped at an interrupt: the workflow waits for a decision."""
    with conn.transaction():
        _end_attempt(conn, workflow_run_id, dagster_run_id, "succeeded", None)
        return _update_run(
            conn,
            workflow_run_id,
            "status = 'awaiting_approval', outcome = 'awaiting_approval',"
            " outcome_message = %(message)s, state_summary = %(summary)s",
            {"message": message, "summary": jsonb(state_summary)},
            details={"dagster_run_id": dagster_run_id, "message": message},
        )


def finish(
    conn: psycopg.Connection[Any],
    *,
    workflow_run_id: int,
    dagster_run_id: str,
    outcome: str,
    message: str,
    state_summary: JsonValue,
) -> WorkflowRun:
    """The graph reached its end."""
    with conn.transaction():
        _end_attempt(conn, workflow_run_id, dagster_run_id, "succeeded", None)
        return _update_run(
            conn,
            workflow_run_id,
            "status = 'succeeded', outcome = %(outcome)s, outcome_message = %(message)s,"
            " state_summary = %(summary)s, finished_at = now()",
            {"outcome": outcome, "message": message, "summary": jsonb(state_summary)},
            details={"dagster_run_id": dagster_run_id, "outcome": outcome, "message": message},
        )


def fail(
    conn: psycopg.Connection[Any],
    *,
    workflow_run_id: int,
    dagster_run_id: str | None,
    error: str,
) -> WorkflowRun:
    """The workflow run failed for good (no retry is coming); its state summary is kept."""
    with conn.transaction():
        if dagster_run_id is not None:
            _end_attempt(conn, workflow_run_id, dagster_run_id, "failed", error)
        return _update_run(
            conn,
            workflow_run_id,
            "status = 'failed', outcome = 'failed', error = %(error)s,"
            " outcome_message = %(error)s, finished_at = now()",
            {"error": error},
            details={"dagster_run_id": dagster_run_id, "outcome": "failed", "error": error},
        )


async def request_retry(
    conn: AsyncConnection[Any], *, workflow_run_id: int, actor: str, reason: str
) -> WorkflowRun:
    """Ask for a failed run again, as `actor`: it becomes `requested`, and the event sensor
    launches it under a new Dagster run key (`<run key>#retry-<n>`); the runner resumes its
    thread from the last checkpoint, so finished steps are not run again. Audited
    (`run.retry_requested`, then its envelopes' status changes) in the same transaction."""
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "WITH old AS (SELECT id AS old_id, status AS previous_status"
            " FROM orchestrator.workflow_runs WHERE id = %(id)s FOR UPDATE)"
            " UPDATE orchestrator.workflow_runs SET status = 'requested', retries = retries + 1,"
            " error = NULL, finished_at = NULL, last_requested_at = NULL, batch_id = NULL,"
            " updated_at = now()"
            f" FROM old WHERE id = old.old_id AND previous_status = 'failed'"
            f" RETURNING previous_status, {RUN_COLUMNS}",
            {"id": workflow_run_id},
        )
        row = await cur.fetchone()
        if row is None:
            raise ValueError(f"workflow run {workflow_run_id} is not failed")
        previous = row.pop("previous_status")
        run = WorkflowRun(**row)
        changed: list[Any] = []
        if run.envelope_ids:
            await cur.execute(_LOCK_ENVELOPES, {"ids": run.envelope_ids})
            changed = await (
                await conn.execute(_REFRESH_ENVELOPES, {"ids": run.envelope_ids})
            ).fetchall()
        entries = [
            audit.AuditEntry(
                actor=actor,
                action="run.retry_requested",
                entity_type="workflow_run",
                entity_id=run.id,
                before={"status": previous},
                after={
                    "status": run.status,
                    "workflow": run.workflow,
                    "retries": run.retries,
                    "reason": reason,
                },
                correlation_id=run.correlation_id,
                policy_version=run.policy_version,
            ),
            *_envelope_entries(changed, run),
        ]
        await audit.append_all_async(conn, entries)
        return run


def note_attempt_error(
    conn: psycopg.Connection[Any], *, workflow_run_id: int, dagster_run_id: str, error: str
) -> None:
    """A transient failure that Dagster will retry: recorded on the attempt only."""
    conn.execute(
        "UPDATE orchestrator.workflow_run_attempts SET error = %s"
        " WHERE dagster_run_id = %s AND workflow_run_id = %s",
        (error, dagster_run_id, workflow_run_id),
    )


# The original of the newest child of `workflow` on the object asked for by a run of the
# parent's lineage (the original parent or an earlier replay of it).
_EARLIER_CHILD = """
SELECT coalesce(c.replay_of, c.id) FROM orchestrator.workflow_runs c
WHERE c.workflow = %(workflow)s AND c.object_type = %(object_type)s
  AND c.object_id = %(object_id)s
  AND c.parent_id IN (SELECT p.id FROM orchestrator.workflow_runs p
                      WHERE p.id = %(lineage)s OR p.replay_of = %(lineage)s)
ORDER BY c.id DESC
LIMIT 1
"""


def request_child_run(
    conn: psycopg.Connection[Any],
    *,
    parent: WorkflowRun,
    workflow: str,
    object_type: str,
    object_id: int,
    reason: str,
    details: dict[str, Any],
    policy: LoadedPolicy,
) -> int:
    """Ask for another workflow (e.g. a kickoff from company intake); at most one per parent
    and workflow, so a re-executed step asks once. Returns the requested run's id.

    A replayed parent asks for a replayed child: it belongs to the parent's replay and replays
    the child an earlier run of the parent's lineage asked for, so the child's writes that
    must not happen twice (the calendar event) are taken from the ledger, not repeated."""
    run_key = run_key_for_request(workflow, parent.id)
    trigger = {
        "source": "workflow",
        "parent_run_id": parent.id,
        "parent_workflow": parent.workflow,
        "reason": reason,
        "details": details,
        "events": parent.events,
    }
    with conn.transaction(), conn.cursor() as cur:
        replay_of = None
        if parent.replay_id is not None:
            earlier = cur.execute(
                _EARLIER_CHILD,
                {
                    "workflow": workflow,
                    "object_type": object_type,
                    "object_id": object_id,
                    "lineage": parent.lineage_id,
                },
            ).fetchone()
            replay_of = earlier[0] if earlier else None
        cur.execute(
            """
            INSERT INTO orchestrator.workflow_runs (
                run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,
                envelope_ids, trigger, parent_id, status, policy_version, policy_hash,
                replay_id, replay_of
            ) VALUES (
                %(run_key)s, %(workflow)s, %(thread_id)s, %(portal_id)s, %(object_type)s,
                %(object_id)s, %(correlation_id)s, %(envelope_ids)s, %(trigger)s, %(parent_id)s,
                'requested', %(policy_version)s, %(policy_hash)s, %(replay_id)s, %(replay_of)s
            )
            ON CONFLICT (run_key) DO NOTHING
            RETURNING id
            """,
            {
                "run_key": run_key,
                "workflow": workflow,
                "thread_id": thread_id_for(workflow, object_type, object_id, run_key),
                "portal_id": parent.portal_id,
                "object_type": object_type,
                "object_id": object_id,
                "correlation_id": parent.correlation_id,
                "envelope_ids": parent.envelope_ids,
                "trigger": jsonb(trigger),
                "parent_id": parent.id,
                "policy_version": policy.version,
                "policy_hash": policy.content_hash,
                "replay_id": parent.replay_id,
                "replay_of": replay_of,
            },
        )
        created = cur.fetchone()
        if created is None:  # asked for before: the run exists
            row = cur.execute(
                "SELECT id FROM orchestrator.workflow_runs WHERE run_key = %s", (run_key,)
            ).fetchone()
            assert row is not None
            return int(row[0])
        audit.append(
            conn,
            launched_entry(
                workflow_run_id=created[0],
                workflow=workflow,
                run_key=run_key,
                envelope_ids=parent.envelope_ids,
                object_type=object_type,
                object_id=object_id,
                correlation_id=parent.correlation_id,
                policy_version=policy.version,
                requested_by={"parent_run_id": parent.id, "reason": reason},
            ),
        )
    return int(created[0])


def lineage_threads(conn: psycopg.Connection[Any], run: WorkflowRun) -> list[str]:
    """The threads of the runs `run` replays: its original and the original's other replays,
    newest first (empty for a run that is not a replay)."""
    if run.replay_of is None:
        return []
    rows = conn.execute(
        "SELECT thread_id FROM orchestrator.workflow_runs"
        " WHERE (id = %(root)s OR replay_of = %(root)s) AND id <> %(id)s ORDER BY id DESC",
        {"root": run.replay_of, "id": run.id},
    ).fetchall()
    return [row[0] for row in rows]


def find_runs(
    conn: psycopg.Connection[Any],
    *,
    workflow: str,
    object_type: str,
    object_id: int,
    statuses: Iterable[RunStatus],
    exclude_id: int | None = None,
    outcomes: Iterable[str] | None = None,
) -> list[WorkflowRun]:
    """Runs of one workflow on one object, in the given statuses (and outcomes), oldest first."""
    with conn.cursor(row_factory=class_row(WorkflowRun)) as cur:
        return cur.execute(
            f"SELECT {RUN_COLUMNS} FROM orchestrator.workflow_runs"
            " WHERE workflow = %(workflow)s AND object_type = %(object_type)s"
            " AND object_id = %(object_id)s AND status = ANY(%(statuses)s)"
            " AND id <> coalesce(%(exclude)s, -1)"
            " AND (%(outcomes)s::text[] IS NULL OR outcome = ANY(%(outcomes)s::text[]))"
            " ORDER BY id",
            {
                "workflow": workflow,
                "object_type": object_type,
                "object_id": object_id,
                "statuses": list(statuses),
                "exclude": exclude_id,
                "outcomes": None if outcomes is None else list(outcomes),
            },
        ).fetchall()
