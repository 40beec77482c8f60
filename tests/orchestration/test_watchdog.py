"""Run worker heartbeats and the watchdog: a run's attempts are stamped while it works; a run
whose worker went silent is failed (Dagster then retries it), and nothing else is."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import dagster as dg
import psycopg

from orchestrator_core.records import runs
from orchestrator_core.records.heartbeats import beat, expect_silence, silent_runs
from orchestrator_defs.runtime.heartbeat import run_heartbeat
from sensors.events import hubspot_event_sensor
from sensors.watchdog import run_worker_watchdog
from tests.support import hubspot_event, ingest_events


def _attempt(instance: dg.DagsterInstance, database_url: str, db: Any, object_id: int) -> str:
    """A workflow run with an attempt running under a Dagster run in STARTED state."""
    ingest_events(database_url, [hubspot_event("company.creation", objectId=object_id)])
    (request,) = list(hubspot_event_sensor(dg.build_sensor_context(instance=instance)) or [])
    dagster_run = instance.add_run(
        dg.DagsterRun(
            job_name="company_intake",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags=request.tags,
        )
    )
    runs.begin_attempt(
        db,
        workflow_run_id=int(request.tags["orchestrator/workflow_run_id"]),
        dagster_run_id=dagster_run.run_id,
        job_name="company_intake",
        kind="start",
    )
    return dagster_run.run_id


def _silent_since(db: psycopg.Connection[Any], run_id: str, seconds: int) -> None:
    db.execute(
        "UPDATE orchestrator.workflow_run_attempts SET started_at = now() - make_interval(secs"
        " => %s), heartbeat_at = NULL WHERE dagster_run_id = %s",
        (seconds, run_id),
    )


def _heartbeat(db: psycopg.Connection[Any], run_id: str) -> Any:
    row = db.execute(
        "SELECT heartbeat_at FROM orchestrator.workflow_run_attempts WHERE dagster_run_id = %s",
        (run_id,),
    ).fetchone()
    assert row is not None
    return row[0]


def test_the_heartbeat_stamps_the_runs_attempts_while_it_works_and_stops_after(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    run_id = _attempt(dagster_instance, database_url, db, 9001)
    assert _heartbeat(db, run_id) is None
    with run_heartbeat(database_url, run_id, every=0.1):
        time.sleep(0.5)
        first = _heartbeat(db, run_id)
        time.sleep(0.3)
        assert _heartbeat(db, run_id) > first
    stopped = _heartbeat(db, run_id)
    time.sleep(0.3)
    assert _heartbeat(db, run_id) == stopped


def test_a_run_whose_worker_went_silent_is_failed_and_the_others_are_not(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    dead = _attempt(dagster_instance, database_url, db, 9001)
    alive = _attempt(dagster_instance, database_url, db, 9002)
    finished = _attempt(dagster_instance, database_url, db, 9003)
    _silent_since(db, dead, 120)  # beyond RUN_SILENT_AFTER_SECONDS (90)
    _silent_since(db, alive, 120)
    _silent_since(db, finished, 120)
    db.execute(
        "UPDATE orchestrator.workflow_run_attempts SET heartbeat_at = now() - interval '5 s'"
        " WHERE dagster_run_id = %s",
        (alive,),
    )
    # Its Dagster run already ended (failed by run monitoring, say): nothing to do.
    ended = dagster_instance.get_run_by_id(finished)
    assert ended is not None
    dagster_instance.report_run_failed(ended, message="already failed")

    result = run_worker_watchdog(dg.build_sensor_context(instance=dagster_instance))

    assert isinstance(result, dg.SkipReason)
    assert f"failed 1 run(s) with a silent worker: {dead}" == result.skip_message
    statuses = {
        run_id: dagster_instance.get_run_by_id(run_id).status  # type: ignore[union-attr]
        for run_id in (dead, alive, finished)
    }
    assert statuses == {
        dead: dg.DagsterRunStatus.FAILURE,
        alive: dg.DagsterRunStatus.STARTED,
        finished: dg.DagsterRunStatus.FAILURE,
    }
    failure = [
        record.event_log_entry.message
        for record in dagster_instance.get_records_for_run(dead).records
        if record.event_log_entry.dagster_event is not None
        and record.event_log_entry.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
    ]
    assert any("no heartbeat for 90 s" in message for message in failure), failure
    # Their attempts are ended with why; the live one still runs. The next tick finds nothing.
    attempts = dict(
        db.execute(
            "SELECT dagster_run_id, status || ': ' || coalesce(error, '')"
            " FROM orchestrator.workflow_run_attempts"
        ).fetchall()
    )
    assert attempts[alive] == "running: "
    assert attempts[dead].startswith("failed: the run worker sent no heartbeat for 90 s")
    assert attempts[finished].startswith("failed: ")
    again = run_worker_watchdog(dg.build_sensor_context(instance=dagster_instance))
    assert isinstance(again, dg.SkipReason)
    assert again.skip_message == "no silent run worker among 0 ended run(s)"


def test_a_worker_waiting_for_its_step_retry_is_not_taken_for_dead(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    # Dagster waits before it retries a step (RUN_RETRY_BASE_SECONDS, doubling: 120 s at the
    # third), and nothing beats meanwhile: longer than RUN_SILENT_AFTER_SECONDS (90).
    waiting = _attempt(dagster_instance, database_url, db, 9001)
    _silent_since(db, waiting, 120)
    assert expect_silence(db, waiting, 120.0) == 1
    # A beat meanwhile (the heartbeat thread's last) does not pull the announced end back.
    beat(db, waiting)
    assert silent_runs(db, silent_for=timedelta(seconds=90)) == []
    result = run_worker_watchdog(dg.build_sensor_context(instance=dagster_instance))
    assert isinstance(result, dg.SkipReason)
    assert dagster_instance.get_run_by_id(waiting).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
    # Once the announced wait and the silence allowed after it have passed, it is dead.
    db.execute(
        "UPDATE orchestrator.workflow_run_attempts SET heartbeat_at = now() - interval '91 s'"
        " WHERE dagster_run_id = %s",
        (waiting,),
    )
    assert silent_runs(db, silent_for=timedelta(seconds=90)) == [waiting]
