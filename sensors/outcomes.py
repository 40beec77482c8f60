"""Run outcomes the workflows themselves could not record: a Dagster run that failed or was
canceled before or outside the workflow step (a code location that did not load, a resource
that did not start, a worker that was killed and marked failed, a cancel from the UI).

The workflow run (or each workflow run of a batch still in progress) is marked failed, with an
exception, unless it already moved on (a later run of it succeeded, or the step recorded the
failure itself). A failed batch is marked finished, so that another can take its slot.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg

from orchestrator_core.records.batches import finish_batch, get_batch
from orchestrator_core.records.exceptions import NewException, Severity, open_exception
from orchestrator_core.records.runs import fail, get_run
from orchestrator_defs.tags import BATCH_ID_TAG, WILL_RETRY_TAG, WORKFLOW_RUN_TAG
from sensors.connection import tick_connection


def record_run_ended(
    dagster_run: dg.DagsterRun, *, kind: str, message: str, severity: Severity = "error"
) -> None:
    workflow_run_id = dagster_run.tags.get(WORKFLOW_RUN_TAG)
    batch_id = dagster_run.tags.get(BATCH_ID_TAG)
    if workflow_run_id is None and batch_id is None:
        return
    if dagster_run.tags.get(WILL_RETRY_TAG) == "true":
        return  # Dagster re-executes it (dagster.yaml run_retries); the retry resumes the thread
    with tick_connection() as conn:
        if workflow_run_id is not None:
            _fail_left(conn, int(workflow_run_id), dagster_run, kind, message, severity)
            return
        assert batch_id is not None
        batch = get_batch(conn, int(batch_id))
        if batch is None or batch.dagster_run_id not in (None, dagster_run.run_id):
            return  # unknown, or another Dagster run (a retry) owns the batch now
        for member in batch.workflow_run_ids:
            _fail_left(conn, member, dagster_run, kind, message, severity)
        finish_batch(conn, batch.id)


def _fail_left(
    conn: psycopg.Connection[Any],
    workflow_run_id: int,
    dagster_run: dg.DagsterRun,
    kind: str,
    message: str,
    severity: Severity,
) -> None:
    """Fail the workflow run if the ended Dagster run left it in progress."""
    run = get_run(conn, workflow_run_id)
    if run is None or run.is_terminal or run.status == "awaiting_approval":
        return
    if run.dagster_run_id not in (None, dagster_run.run_id) and run.status == "running":
        return  # another Dagster run is working on it now
    open_exception(
        conn,
        NewException(
            kind=kind,
            severity=severity,
            message=message,
            suggested_fix=(
                "Read the run's events in the Dagster UI; once the cause is fixed,"
                " re-execute the run: it resumes from the workflow's checkpoint."
            ),
            key=dagster_run.run_id,
        ),
        run=run,
        dagster_run_id=dagster_run.run_id,
    )
    fail(conn, workflow_run_id=run.id, dagster_run_id=dagster_run.run_id, error=message)


@dg.run_failure_sensor(
    name="workflow_run_failure_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description="Marks a workflow run failed when its Dagster run failed outside the workflow.",
)
def workflow_run_failure_sensor(context: dg.RunFailureSensorContext) -> None:
    failure = context.failure_event.message or "the Dagster run failed"
    record_run_ended(
        context.dagster_run, kind="run_failed", message=f"Dagster run failed: {failure}"
    )


@dg.run_status_sensor(
    name="workflow_run_canceled_sensor",
    run_status=dg.DagsterRunStatus.CANCELED,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description="Marks a workflow run failed when its Dagster run was canceled.",
)
def workflow_run_canceled_sensor(context: dg.RunStatusSensorContext) -> None:
    record_run_ended(
        context.dagster_run,
        kind="run_canceled",
        message="the Dagster run was canceled before the workflow finished",
        severity="warning",
    )
