"""Batch runs through a real Dagster instance on Postgres, against the sandbox: each workflow run
of a batch ends as a lone run would (one fails for good, one fails transiently and is retried,
one parks at an approval, one succeeds) while the batch run succeeds; a batch run killed in the
middle and run again finishes every workflow without repeating a side effect."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestrator_core.settings import get_settings
from orchestrator_defs.definitions import build_definitions
from tests.conftest import make_settings
from tests.orchestration.test_jobs import REPO, _dispatch, _run_in_subprocess, job_env
from tests.support import hubspot_event, ingest_events
from tests.vendor_sandbox import SandboxServer, sandbox_config

__all__ = ["job_env"]  # a fixture used here


def _statuses(db: psycopg.Connection[Any], ids: list[int]) -> dict[int, tuple[str, str | None]]:
    rows = db.execute(
        "SELECT id, status, outcome FROM orchestrator.workflow_runs WHERE id = ANY(%s)", (ids,)
    ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def _run_of(db: psycopg.Connection[Any], workflow: str, object_id: int) -> int:
    row = db.execute(
        "SELECT id FROM orchestrator.workflow_runs WHERE workflow = %s AND object_id = %s",
        (workflow, object_id),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _audit_count(db: psycopg.Connection[Any], action: str, workflow_run_id: int) -> int:
    row = db.execute(
        "SELECT count(*) FROM orchestrator.audit_log WHERE action = %s AND entity_id = %s",
        (action, str(workflow_run_id)),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_each_workflow_of_a_batch_ends_as_a_lone_run_would(
    dagster_env: dict[str, str],
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One at a time inside the batch, so the sandbox's aimed fault meets exactly one call.
    monkeypatch.setenv("ORCHESTRATOR_BATCH_CONCURRENCY", "1")
    monkeypatch.setenv("RUN_RETRY_BASE_SECONDS", "0.2")
    get_settings.cache_clear()
    defs = build_definitions(
        make_settings(database_url, sandbox_url=sandbox.base_url, connector_max_attempts=2)
    )
    ingest_events(
        database_url,
        [
            hubspot_event("deal.creation", objectId=5002),  # 125,000 USD: parks for an admin
            hubspot_event("deal.creation", objectId=5003),  # 18,000 EUR: below the threshold
            hubspot_event("deal.creation", objectId=99999),  # not in HubSpot: fails for good
            hubspot_event("deal.creation", objectId=5019),  # 3,600 EUR, after a vendor outage
        ],
    )
    (request,) = _dispatch(dagster_instance)
    assert request.tags["orchestrator/batch_size"] == "4"
    # HubSpot fails deal 5019's read twice: the connector's two attempts, then the workflow's.
    sandbox.configure(
        sandbox_config(
            hubspot={
                "faults": {
                    "error_500_share": 1.0,
                    "path_contains": "/objects/deals/5019",
                    "max_faults": 2,
                }
            }
        )
    )

    assert request.job_name is not None
    result = defs.resolve_job_def(request.job_name).execute_in_process(
        run_config=request.run_config,
        instance=dagster_instance,
        tags=request.tags,
        raise_on_error=False,
    )

    assert result.success  # one workflow's failure is its own, not the batch's
    parked, below, missing, retried = (
        _run_of(db, "procurement_approval", deal) for deal in (5002, 5003, 99999, 5019)
    )
    assert _statuses(db, [parked, below, missing, retried]) == {
        parked: ("awaiting_approval", "awaiting_approval"),
        below: ("succeeded", "below_threshold"),
        missing: ("failed", "failed"),
        retried: ("succeeded", "below_threshold"),
    }
    (kind, run_id) = db.execute(
        "SELECT kind, workflow_run_id FROM orchestrator.exceptions WHERE status = 'open'"
    ).fetchone() or (None, None)
    assert (kind, run_id) == ("connector_permanent", missing)
    (approval_run, approval_status, requested_run) = db.execute(
        "SELECT workflow_run_id, status, requested_run_id FROM orchestrator.approvals"
    ).fetchone() or (None, None, None)
    assert (approval_run, approval_status, requested_run) == (parked, "pending", result.run_id)
    # The step was retried once, for what was left: the others were not driven again.
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1
    for run_id in (parked, below, missing, retried):
        assert _audit_count(db, "run.started", run_id) == 1
    for run_id in (parked, below, missing, retried):
        row = db.execute(
            "SELECT dagster_run_id FROM orchestrator.workflow_runs WHERE id = %s", (run_id,)
        ).fetchone()
        assert row == (result.run_id,)  # each links to the Dagster run that worked it
    batch = db.execute(
        "SELECT dagster_run_id, started_at IS NOT NULL, finished_at IS NOT NULL"
        " FROM orchestrator.run_batches"
    ).fetchone()
    assert batch == (result.run_id, True, True)
    run = dagster_instance.get_run_by_id(result.run_id)
    assert run is not None
    assert run.tags["orchestrator/batch_outcome"] == "awaiting_approval=1,failed=1,succeeded=2"
    # Every attempt's materializations are in the event log (the first attempt parked 5002).
    records = dagster_instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    proposals = [
        event.asset_materialization.metadata
        for event in (record.event_log_entry for record in records)
        if event.asset_materialization is not None
        and event.asset_materialization.asset_key.to_user_string() == "ops/procurement_requests"
    ]
    assert [m["hubspot_object"].value for m in proposals] == ["deal/5002"]
    assert proposals[0]["workflow_run_id"].value == parked


def test_a_killed_batch_run_again_finishes_every_workflow_without_repeating_a_write(
    job_env: dict[str, str],
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    sandbox: SandboxServer,
) -> None:
    contacts = [7001, 7002, 7003, 7004, 7005, 7006]
    ingest_events(database_url, [hubspot_event("contact.creation", objectId=c) for c in contacts])
    (request,) = _dispatch(dagster_instance)
    assert request.tags["orchestrator/batch_size"] == str(len(contacts))
    env = {**job_env, "ORCHESTRATOR_BATCH_CONCURRENCY": "2"}
    # Google hangs (and would then fail without copying anything): the workers stop in the
    # Drive step, after their HubSpot and Airtable writes, and are killed there.
    sandbox.configure(sandbox_config(google={"faults": {"timeout_share": 1.0}}))
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.orchestration.run_job",
            "contact_role_mapping",
            json.dumps(request.run_config),
            json.dumps(request.tags),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _at_drive_step(db) < 1:
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.2)
        assert _at_drive_step(db) >= 1, "no worker reached the Drive step"
        time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    killed_mid_batch = db.execute(
        "SELECT count(*) FILTER (WHERE status IN ('requested', 'running')),"
        " count(*) FILTER (WHERE status = 'succeeded') FROM orchestrator.workflow_runs"
    ).fetchone()
    assert killed_mid_batch is not None and killed_mid_batch[0] >= 1
    done_before = db.execute(
        "SELECT thread_id, step, target FROM orchestrator.side_effects WHERE status = 'succeeded'"
    ).fetchall()

    sandbox.configure(sandbox_config())
    again = _run_in_subprocess(request, env, timeout=180)

    assert again["success"], again["stderr"]
    statuses = db.execute(
        "SELECT status, count(*) FROM orchestrator.workflow_runs GROUP BY status"
    ).fetchall()
    assert statuses == [("succeeded", len(contacts))]
    effects = db.execute(
        "SELECT thread_id, step, target, status, attempts FROM orchestrator.side_effects"
    ).fetchall()
    assert all(status == "succeeded" for *_, status, _ in effects)
    attempts = {(thread, step, target): n for thread, step, target, _, n in effects}
    # What was written before the kill was not written again.
    assert all(attempts[tuple(key)] == 1 for key in done_before)
    # One Airtable Contacts record per contact given a role (a merged-away id acts on its
    # surviving contact), whatever the batch went through.
    assigned = db.execute(
        "SELECT DISTINCT state_summary->>'contact_id' FROM orchestrator.workflow_runs"
        " WHERE outcome = 'role_assigned'"
    ).fetchall()
    assert len(assigned) >= 2
    records = sandbox.inspect("airtable/appOrchestratorOps/Contacts")["records"]
    by_contact: dict[str, int] = {}
    for record in records:
        key = str(record["fields"]["HubSpot ID"])
        by_contact[key] = by_contact.get(key, 0) + 1
    assert by_contact == {str(contact): 1 for (contact,) in assigned}
    # The rerun owns the batch: a new Dagster run, and the batch finished under it.
    batch = db.execute(
        "SELECT dagster_run_id, finished_at IS NOT NULL FROM orchestrator.run_batches"
    )
    assert batch.fetchone() == (again["run_id"], True)


def _at_drive_step(db: psycopg.Connection[Any]) -> int:
    """Runs whose checkpoint is past the checklist: they are in (or past) the Drive step."""
    row = db.execute(
        "SELECT count(*) FROM orchestrator.workflow_runs WHERE 'seed_checklist' = ANY(steps)"
    ).fetchone()
    return int(row[0]) if row else 0
