"""Batches: the workflow runs one Dagster run works together (formed by `launches.py`).

The batch's Dagster run marks it started (`start_batch`, again by every retry of the run, which
then owns it), drives what is left of it (`runs_left`: a member that finished, failed or parked
in an earlier attempt is not driven again) and marks it finished (`finish_batch`). Each member
keeps its own record: its attempts, status and audit rows name the batch's Dagster run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from orchestrator_core.db.columns import columns_of


@dataclass(frozen=True)
class Batch:
    """One row of orchestrator.run_batches."""

    id: int
    workflow: str
    phase: str
    workflow_run_ids: list[int]
    requested_at: datetime
    last_requested_at: datetime
    dagster_run_id: str | None
    started_at: datetime | None
    finished_at: datetime | None


BATCH_COLUMNS = columns_of(Batch)


def get_batch(conn: psycopg.Connection[Any], batch_id: int) -> Batch | None:
    with conn.cursor(row_factory=class_row(Batch)) as cur:
        return cur.execute(
            f"SELECT {BATCH_COLUMNS} FROM orchestrator.run_batches WHERE id = %s", (batch_id,)
        ).fetchone()


def start_batch(conn: psycopg.Connection[Any], batch_id: int, *, dagster_run_id: str) -> Batch:
    """The Dagster run `dagster_run_id` works the batch from now on."""
    with conn.cursor(row_factory=class_row(Batch)) as cur:
        batch = cur.execute(
            "UPDATE orchestrator.run_batches SET dagster_run_id = %s,"
            " started_at = coalesce(started_at, now()), finished_at = NULL"
            f" WHERE id = %s RETURNING {BATCH_COLUMNS}",
            (dagster_run_id, batch_id),
        ).fetchone()
    if batch is None:
        raise LookupError(f"batch {batch_id} does not exist")
    return batch


def runs_left(conn: psycopg.Connection[Any], batch: Batch) -> list[int]:
    """The members still to drive, in the batch's order: requested, or running (an attempt that
    died or is being retried)."""
    rows = conn.execute(
        "SELECT id FROM orchestrator.workflow_runs"
        " WHERE id = ANY(%s) AND status IN ('requested', 'running')",
        (batch.workflow_run_ids,),
    ).fetchall()
    left = {row[0] for row in rows}
    return [run_id for run_id in batch.workflow_run_ids if run_id in left]


def member_statuses(conn: psycopg.Connection[Any], batch: Batch) -> dict[str, int]:
    """How many members are in each status now."""
    rows = conn.execute(
        "SELECT status, count(*) FROM orchestrator.workflow_runs WHERE id = ANY(%s)"
        " GROUP BY status ORDER BY status",
        (batch.workflow_run_ids,),
    ).fetchall()
    return {status: count for status, count in rows}


def finish_batch(conn: psycopg.Connection[Any], batch_id: int) -> None:
    conn.execute(
        "UPDATE orchestrator.run_batches SET finished_at = coalesce(finished_at, now())"
        " WHERE id = %s",
        (batch_id,),
    )
