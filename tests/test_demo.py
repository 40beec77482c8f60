"""`orchestrator demo --exit-when-done` from a fresh home, as CI and a newcomer run it: embedded
Postgres, the API, the sandbox, the Dagster webserver and daemon; the sample deliveries become
runs launched by the sensor, which finish or park at an approval as `expected.yaml` says. Run
a second time on the same home, every delivery is a duplicate and nothing new runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg

from orchestrator_core.db.embedded import start_embedded
from tests.support import free_port


def _demo(home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "HUBSPOT_WEBHOOK_SECRET", "DAGSTER_HOME", "LOG_LEVEL")
    }
    env["ORCHESTRATOR_HOME"] = str(home)
    command = [
        sys.executable,
        "-m",
        "orchestrator_cli",
        "demo",
        "--exit-when-done",
        "--timeout",
        "400",
        "--api-port",
        str(free_port()),
        "--dagster-port",
        str(free_port()),
        "--sandbox-port",
        str(free_port()),
    ]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_demo_runs_every_workflow_and_is_idempotent(orchestrator_home: Path) -> None:
    first = _demo(orchestrator_home)
    out = first.stdout
    assert first.returncode == 0, out + first.stderr[-5000:]
    _assert_nothing_left_running(orchestrator_home)
    assert "01-companies-created.json                        200  stored  8  duplicates  0" in out
    assert "04-redelivery-of-01.json                         200  stored  0  duplicates  3" in out
    assert "06-one-invalid-event.json                        422  stored  2" in out
    assert "every sample reached its expected outcome." in out
    assert "12 workflow runs:" in out
    assert "approvals waiting for a decision" in out
    # The demo ends by rebuilding the KPI marts through Dagster and showing the KPIs.
    assert re.search(r"Dagster run http://\S+/runs/[0-9a-f-]+: SUCCESS", out), out[-3000:]
    assert "workflow runs\n  requested           12\n" in out
    assert (orchestrator_home / "analytics" / "kpis.duckdb").is_file()
    # The console is for the summary; the services log to files.
    logs = orchestrator_home / "logs"
    assert {p.name for p in logs.iterdir()} >= {
        "api.log",
        "sandbox.log",
        "dagster-webserver.log",
        "dagster-daemon.log",
    }
    _assert_runs_launched_by_the_sensor(orchestrator_home)

    second = _demo(orchestrator_home)
    assert second.returncode == 0, second.stdout + second.stderr[-5000:]
    assert (
        "01-companies-created.json                        200  stored  0  duplicates  8"
        in second.stdout
    )
    assert "12 workflow runs:" in second.stdout
    assert "every sample reached its expected outcome." in second.stdout


def _assert_nothing_left_running(home: Path) -> None:
    """No process of the stack outlives it (Dagster's code servers carry the instance's
    directory in their command line, and start sessions of their own)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [
            process.pid
            for process in psutil.process_iter(["cmdline"])
            if str(home) in " ".join(process.info["cmdline"] or [])
        ]
        if not left:
            return
        time.sleep(0.5)
    raise AssertionError(f"processes of {home} still running: {left}")


def _assert_runs_launched_by_the_sensor(home: Path) -> None:
    """Each workflow run's Dagster run exists, succeeded, and carries the run key and tags the
    sensor gave it: its own, or its batch's (read from Dagster's own storage, in the same
    database)."""
    server = start_embedded(home / "pgdata")
    try:
        with psycopg.connect(server.get_uri("orchestrator")) as conn:
            rows = conn.execute(
                """
                SELECT w.run_key, w.batch_id, r.status, k.value, o.value, b.value,
                       (SELECT string_agg(
                            concat_ws(' ', e.dagster_event_type,
                                      e.event::jsonb ->> 'user_message',
                                      substr(e.event::jsonb -> 'dagster_event'
                                             ->> 'event_specific_data', 1, 3000)),
                            E'\n' ORDER BY e.id)
                        FROM dagster.event_logs e
                        WHERE e.run_id = r.run_id AND (
                            e.dagster_event_type IN
                                ('RUN_FAILURE', 'PIPELINE_FAILURE', 'STEP_FAILURE')
                            OR (e.dagster_event_type = 'ENGINE_EVENT'
                                AND e.event::jsonb -> 'dagster_event'
                                    -> 'event_specific_data' ->> 'error' IS NOT NULL)))
                FROM orchestrator.workflow_runs w
                JOIN orchestrator.workflow_run_attempts a ON a.workflow_run_id = w.id
                JOIN dagster.runs r ON r.run_id = a.dagster_run_id
                LEFT JOIN dagster.run_tags k ON k.run_id = r.run_id AND k.key = 'dagster/run_key'
                LEFT JOIN dagster.run_tags o ON o.run_id = r.run_id
                     AND o.key = 'orchestrator/workflow_run_id'
                LEFT JOIN dagster.run_tags b ON b.run_id = r.run_id
                     AND b.key = 'orchestrator/batch_id'
                WHERE a.kind = 'start'
                """
            ).fetchall()
    finally:
        server.cleanup()
    assert len(rows) == 12
    for run_key, batch_id, status, tagged_key, workflow_run_tag, batch_tag, failure in rows:
        # A plain string, so pytest shows the whole error rather than a shortened repr.
        assert status == "SUCCESS", f"{run_key}: Dagster run {status}\n{failure}"
        if batch_id is None:
            assert tagged_key == run_key
            assert workflow_run_tag is not None
        else:
            assert tagged_key == f"batch:{batch_id}"
            assert batch_tag == str(batch_id)
