"""Runs that end outside the workflow step (failed before it started, killed and timed out,
canceled) flow back to the workflow run and its events; a run Dagster will retry does not."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg

from sensors.events import hubspot_event_sensor
from sensors.outcomes import record_run_ended
from tests.support import hubspot_event, ingest_events


def _requested_run(instance: dg.DagsterInstance, database_url: str) -> dg.RunRequest:
    ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    (request,) = list(hubspot_event_sensor(dg.build_sensor_context(instance=instance)) or [])
    return request


def _dagster_run(request: dg.RunRequest, **extra_tags: str) -> dg.DagsterRun:
    return dg.DagsterRun(job_name="company_intake", tags={**request.tags, **extra_tags})


def _state(db: psycopg.Connection[Any]) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT w.status, e.status, (SELECT array_agg(kind) FROM orchestrator.exceptions)"
        " FROM orchestrator.workflow_runs w"
        " JOIN orchestrator.event_envelopes e ON e.id = w.envelope_ids[1]"
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_failed_run_fails_its_workflow_run_with_an_exception(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    request = _requested_run(dagster_instance, database_url)

    record_run_ended(_dagster_run(request), kind="run_failed", message="code location failed")

    assert _state(db) == ("failed", "failed", ["run_failed"])
    message = db.execute("SELECT message FROM orchestrator.exceptions").fetchone()
    assert message == ("code location failed",)


def test_a_run_that_will_be_retried_changes_nothing(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    request = _requested_run(dagster_instance, database_url)

    record_run_ended(
        _dagster_run(request, **{"dagster/will_retry": "true"}),
        kind="run_failed",
        message="worker crashed",
    )

    assert _state(db) == ("requested", "dispatched", None)


def test_a_finished_workflow_run_is_left_as_it_is(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    request = _requested_run(dagster_instance, database_url)
    db.execute("UPDATE orchestrator.workflow_runs SET status = 'succeeded'")

    record_run_ended(_dagster_run(request), kind="run_canceled", message="canceled")

    assert _state(db)[0] == "succeeded"
    assert _state(db)[2] is None


def test_a_failed_run_is_audited_once_however_often_it_is_reported(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    request = _requested_run(dagster_instance, database_url)
    (mark,) = db.execute("SELECT coalesce(max(id), 0) FROM orchestrator.audit_log").fetchone() or ()
    dagster_run = _dagster_run(request)

    for _ in range(2):  # the failure sensor and the canceled sensor, or a re-evaluated tick
        record_run_ended(dagster_run, kind="run_failed", message="code location failed")

    rows = db.execute(
        "SELECT actor, action, entity_type, entity_id, before, after FROM orchestrator.audit_log"
        " WHERE id > %s AND entity_type <> 'event' ORDER BY id",
        (mark,),
    ).fetchall()
    ((exception_id,),) = db.execute("SELECT id FROM orchestrator.exceptions").fetchall()
    run_id = request.tags["orchestrator/workflow_run_id"]
    assert [(actor, action, kind, entity) for actor, action, kind, entity, _, _ in rows] == [
        ("system", "exception.opened", "exception", str(exception_id)),
        ("system", "run.finished", "workflow_run", run_id),
    ]
    assert rows[0][5]["kind"] == "run_failed"
    assert rows[0][5]["dagster_run_id"] == dagster_run.run_id
    assert (rows[1][4], rows[1][5]["status"]) == ({"status": "requested"}, "failed")
