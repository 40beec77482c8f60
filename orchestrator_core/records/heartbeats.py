"""Run worker heartbeats, on the attempts a Dagster run is working (`workflow_run_attempts`).

Dagster's default run launcher cannot tell that a run worker died: the run stays STARTED until
run monitoring's max_runtime_seconds. So the worker stamps `heartbeat_at` on its running
attempts every few seconds (`orchestrator_defs/runtime/heartbeat.py`), and the watchdog sensor
(`sensors/watchdog.py`) asks for the Dagster runs whose attempts went silent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg


def beat(conn: psycopg.Connection[Any], dagster_run_id: str) -> int:
    """Stamp the run's running attempts (a batch has one per member); how many there were. A
    stamp never moves back: a silence announced by `expect_silence` holds until its end."""
    cursor = conn.execute(
        "UPDATE orchestrator.workflow_run_attempts"
        " SET heartbeat_at = greatest(heartbeat_at, now())"
        " WHERE dagster_run_id = %s AND status = 'running'",
        (dagster_run_id,),
    )
    return cursor.rowcount


def expect_silence(conn: psycopg.Connection[Any], dagster_run_id: str, seconds: float) -> int:
    """The run's worker will be quiet for `seconds` by design: Dagster waits that long before
    it retries a step, and nothing beats meanwhile. Its running attempts count as heard from
    until then, so the watchdog does not take the wait for a death (a worker killed during the
    wait is noticed that much later)."""
    cursor = conn.execute(
        "UPDATE orchestrator.workflow_run_attempts"
        " SET heartbeat_at = greatest(heartbeat_at, now() + make_interval(secs => %s))"
        " WHERE dagster_run_id = %s AND status = 'running'",
        (seconds, dagster_run_id),
    )
    return cursor.rowcount


# Attempts silent for longer than this are history (the run was failed, or its worker died
# before heartbeats existed): not looked at again on every tick.
LOOK_BACK = timedelta(days=1)


def silent_runs(conn: psycopg.Connection[Any], *, silent_for: timedelta) -> list[str]:
    """The Dagster runs with an attempt still running and no heartbeat for `silent_for` (an
    attempt that never beat counts from its start), within `LOOK_BACK`."""
    rows = conn.execute(
        "SELECT DISTINCT dagster_run_id FROM orchestrator.workflow_run_attempts"
        " WHERE status = 'running'"
        " AND coalesce(heartbeat_at, started_at) BETWEEN now() - %s AND now() - %s"
        " ORDER BY dagster_run_id",
        (LOOK_BACK, silent_for),
    ).fetchall()
    return [str(row[0]) for row in rows]


def end_silent_attempts(conn: psycopg.Connection[Any], dagster_run_id: str, error: str) -> int:
    """The attempts a silent run left running: failed, with why (the run's retry gets its own
    attempt, so the run's history shows both)."""
    cursor = conn.execute(
        "UPDATE orchestrator.workflow_run_attempts SET status = 'failed', error = %s,"
        " finished_at = now() WHERE dagster_run_id = %s AND status = 'running'",
        (error, dagster_run_id),
    )
    return cursor.rowcount
