"""Workflow runs in Postgres: their lifecycle as the Dagster side drives them, and how their
status flows back to the envelopes that started them.

A workflow run is `requested` (by the event sensor or by another run), `running` (a Dagster run
is working on it), `awaiting_approval` (its graph is parked at an interrupt), `succeeded` or
`failed`. Each Dagster run that works on it is an attempt. Every status change also recomputes
the status of the run's envelopes (`refresh_envelope_statuses`), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import JsonValue

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.workflows.naming import run_key_for_request, thread_id_for

RunStatus: TypeAlias = Literal["requested", "running", "awaiting_approval", "succeeded", "failed"]
AttemptKind: TypeAlias = Literal["start", "resume", "continuation"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})

RUN_COLUMNS = (
    "id, run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,"
    " envelope_ids, trigger, parent_id, status, outcome, outcome_message, dagster_run_id, steps,"
    " state_summary, policy_version, policy_hash, error, requested_at, last_requested_at,"
    " started_at, finished_at, updated_at"
)


def jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=lambda v: orjson.dumps(v, default=str).decode())


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
    correlation_id: Any
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

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def events(self) -> list[dict[str, Any]]:
        """The HubSpot events (as summarised at dispatch) that started this run."""
        events: list[dict[str, Any]] = self.trigger.get("events", [])
        return events


# Envelope status from the runs it started: in progress while any run is; then failed, then
# awaiting approval, then processed.
_REFRESH_ENVELOPES = """
UPDATE orchestrator.event_envelopes AS e
SET status = agg.status, updated_at = now()
FROM (
    SELECT e2.id,
           CASE
               WHEN bool_or(r.status IN ('requested', 'running')) THEN 'dispatched'
               WHEN bool_or(r.status = 'failed') THEN 'failed'
               WHEN bool_or(r.status = 'awaiting_approval') THEN 'awaiting_approval'
               ELSE 'processed'
           END AS status
    FROM orchestrator.event_envelopes e2
    JOIN orchestrator.workflow_runs r ON r.envelope_ids @> ARRAY[e2.id]
    WHERE e2.id = ANY(%(ids)s)
    GROUP BY e2.id
) AS agg
WHERE e.id = agg.id AND e.status IS DISTINCT FROM agg.status
"""


def refresh_envelope_statuses(conn: psycopg.Connection[Any], envelope_ids: Sequence[int]) -> None:
    if envelope_ids:
        conn.execute(_REFRESH_ENVELOPES, {"ids": list(envelope_ids)})


def get_run(conn: psycopg.Connection[Any], workflow_run_id: int) -> WorkflowRun | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {RUN_COLUMNS} FROM orchestrator.workflow_runs WHERE id = %s",
            (workflow_run_id,),
        ).fetchone()
    return None if row is None else WorkflowRun(**row)


def _update_run(
    conn: psycopg.Connection[Any], workflow_run_id: int, assignments: str, params: dict[str, Any]
) -> WorkflowRun:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"UPDATE orchestrator.workflow_runs SET {assignments}, updated_at = now()"
            f" WHERE id = %(id)s RETURNING {RUN_COLUMNS}",
            {**params, "id": workflow_run_id},
        ).fetchone()
    if row is None:
        raise LookupError(f"workflow run {workflow_run_id} does not exist")
    run = WorkflowRun(**row)
    refresh_envelope_statuses(conn, run.envelope_ids)
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
            ON CONFLICT (dagster_run_id) DO UPDATE
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
            " WHERE dagster_run_id = %s",
            (step, dagster_run_id),
        )


def _end_attempt(
    conn: psycopg.Connection[Any], dagster_run_id: str, status: str, error: str | None
) -> None:
    conn.execute(
        "UPDATE orchestrator.workflow_run_attempts SET status = %s, error = %s,"
        " finished_at = now() WHERE dagster_run_id = %s",
        (status, error, dagster_run_id),
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
        _end_attempt(conn, dagster_run_id, "succeeded", None)
        return _update_run(
            conn,
            workflow_run_id,
            "status = 'awaiting_approval', outcome = 'awaiting_approval',"
            " outcome_message = %(message)s, state_summary = %(summary)s",
            {"message": message, "summary": jsonb(state_summary)},
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
        _end_attempt(conn, dagster_run_id, "succeeded", None)
        return _update_run(
            conn,
            workflow_run_id,
            "status = 'succeeded', outcome = %(outcome)s, outcome_message = %(message)s,"
            " state_summary = %(summary)s, finished_at = now()",
            {"outcome": outcome, "message": message, "summary": jsonb(state_summary)},
        )


def fail(
    conn: psycopg.Connection[Any],
    *,
    workflow_run_id: int,
    dagster_run_id: str | None,
    error: str,
    state_summary: JsonValue = None,
) -> WorkflowRun:
    """The workflow run failed for good (no retry is coming)."""
    with conn.transaction():
        if dagster_run_id is not None:
            _end_attempt(conn, dagster_run_id, "failed", error)
        return _update_run(
            conn,
            workflow_run_id,
            "status = 'failed', outcome = 'failed', error = %(error)s,"
            " outcome_message = %(error)s,"
            " state_summary = coalesce(%(summary)s, state_summary), finished_at = now()",
            {"error": error, "summary": None if state_summary is None else jsonb(state_summary)},
        )


def note_attempt_error(conn: psycopg.Connection[Any], *, dagster_run_id: str, error: str) -> None:
    """A transient failure that Dagster will retry: recorded on the attempt only."""
    conn.execute(
        "UPDATE orchestrator.workflow_run_attempts SET error = %s WHERE dagster_run_id = %s",
        (error, dagster_run_id),
    )


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
    and workflow, so a re-executed step asks once. Returns the requested run's id."""
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
        cur.execute(
            """
            INSERT INTO orchestrator.workflow_runs (
                run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,
                envelope_ids, trigger, parent_id, status, policy_version, policy_hash
            ) VALUES (
                %(run_key)s, %(workflow)s, %(thread_id)s, %(portal_id)s, %(object_type)s,
                %(object_id)s, %(correlation_id)s, %(envelope_ids)s, %(trigger)s, %(parent_id)s,
                'requested', %(policy_version)s, %(policy_hash)s
            )
            ON CONFLICT (run_key) DO NOTHING
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
            },
        )
        row = cur.execute(
            "SELECT id FROM orchestrator.workflow_runs WHERE run_key = %s", (run_key,)
        ).fetchone()
    assert row is not None
    return int(row[0])


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
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
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
    return [WorkflowRun(**row) for row in rows]
