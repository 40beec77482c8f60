"""Workflow runs for the runs API: the list, one run with its attempts, the events, exceptions
and approvals it has, and the runs an envelope started."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator_core.queries.filters import where

# The run's columns the API shows (not `run_key`, an internal idempotency key).
RUN_LIST_COLUMNS = (
    "id, workflow, status, outcome, outcome_message, thread_id, portal_id, object_type,"
    " object_id, correlation_id, envelope_ids, parent_id, dagster_run_id, policy_version,"
    " error, requested_at, started_at, finished_at, updated_at, replay_id, replay_of, retries"
)
RUN_DETAIL_COLUMNS = (
    RUN_LIST_COLUMNS + ", trigger, steps, state_summary, policy_hash, last_requested_at"
)


@dataclass(frozen=True)
class RunFilter:
    """Filters of the runs list; None means no filter."""

    workflow: str | None = None
    status: str | None = None
    object_type: str | None = None
    object_id: int | None = None
    envelope_id: int | None = None  # runs whose envelope_ids contain it
    requested_from: datetime | None = None  # requested_at ≥
    requested_to: datetime | None = None  # requested_at <
    replay_id: int | None = None  # the runs of one replay


async def list_runs(
    conn: AsyncConnection[Any], *, filters: RunFilter, limit: int, before_id: int | None
) -> list[dict[str, Any]]:
    """Workflow runs matching `filters`, newest first, at most `limit`, ids below `before_id`."""
    condition, params = where(
        ("workflow = %s", filters.workflow),
        ("status = %s", filters.status),
        ("object_type = %s", filters.object_type),
        ("object_id = %s", filters.object_id),
        # containment, so the GIN index on envelope_ids serves it
        ("envelope_ids @> ARRAY[%s]::bigint[]", filters.envelope_id),
        ("requested_at >= %s", filters.requested_from),
        ("requested_at < %s", filters.requested_to),
        ("replay_id = %s", filters.replay_id),
        ("id < %s", before_id),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {RUN_LIST_COLUMNS} FROM orchestrator.workflow_runs"
            f" WHERE {condition} ORDER BY id DESC LIMIT %s",
            [*params, limit],
        )
        return await cur.fetchall()


async def get_run_detail(conn: AsyncConnection[Any], workflow_run_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {RUN_DETAIL_COLUMNS} FROM orchestrator.workflow_runs WHERE id = %s",
            (workflow_run_id,),
        )
        return await cur.fetchone()


async def attempts_of_run(conn: AsyncConnection[Any], workflow_run_id: int) -> list[dict[str, Any]]:
    """The Dagster runs that worked on a workflow run, first one first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT dagster_run_id, kind, job_name, status, steps, error, started_at, finished_at"
            " FROM orchestrator.workflow_run_attempts WHERE workflow_run_id = %s"
            " ORDER BY started_at, dagster_run_id",
            (workflow_run_id,),
        )
        return await cur.fetchall()


async def envelopes_by_id(
    conn: AsyncConnection[Any], envelope_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """A summary of each of the given envelopes (the events that started a run), by id."""
    if not envelope_ids:
        return []
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, event_id, subscription_type, property_name, occurred_at, status"
            " FROM orchestrator.event_envelopes WHERE id = ANY(%s::bigint[]) ORDER BY id",
            (list(envelope_ids),),
        )
        return await cur.fetchall()


async def exceptions_of_run(
    conn: AsyncConnection[Any], workflow_run_id: int
) -> list[dict[str, Any]]:
    """Every exception a workflow run raised, open or resolved, oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, kind, severity, status, message FROM orchestrator.exceptions"
            " WHERE workflow_run_id = %s ORDER BY id",
            (workflow_run_id,),
        )
        return await cur.fetchall()


async def approvals_of_run(
    conn: AsyncConnection[Any], workflow_run_id: int
) -> list[dict[str, Any]]:
    """Every approval a workflow run asked for, oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, kind, status, approver_role, due_at FROM orchestrator.approvals"
            " WHERE workflow_run_id = %s ORDER BY id",
            (workflow_run_id,),
        )
        return await cur.fetchall()


async def runs_of_envelope(conn: AsyncConnection[Any], envelope_id: int) -> list[dict[str, Any]]:
    """The workflow runs whose envelope_ids contain the envelope, oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id AS workflow_run_id, workflow, status, outcome, dagster_run_id"
            " FROM orchestrator.workflow_runs WHERE envelope_ids @> ARRAY[%s]::bigint[]"
            " ORDER BY id",
            (envelope_id,),
        )
        return await cur.fetchall()


# A run's thread writes a handful of entries (one per step and target); the cap only guards a
# page against a runaway loop.
SIDE_EFFECTS_LISTED = 200


async def side_effects_of_thread(
    conn: AsyncConnection[Any], thread_id: str, *, limit: int = SIDE_EFFECTS_LISTED
) -> list[dict[str, Any]]:
    """The ledger's entries of a workflow run's thread (its external writes and the vendors'
    ids for them), oldest first, at most `limit`; served by the ledger's unique key, which
    starts with the thread."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, step, target, status, external_id, error, attempts, reused_from,"
            " created_at, updated_at FROM orchestrator.side_effects WHERE thread_id = %s"
            " ORDER BY id LIMIT %s",
            (thread_id, limit),
        )
        return await cur.fetchall()
