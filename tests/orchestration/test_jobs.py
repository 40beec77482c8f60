"""The workflow jobs through a real Dagster instance on Postgres, against the sandbox:
materializations with lineage metadata, status flowing back to the event store, a graph that
parks in one process and resumes in another, and a worker killed mid-workflow that resumes
from its checkpoint without repeating a write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestrator_core.records.approval_rules import Decider
from orchestrator_defs.definitions import build_definitions
from sensors.approvals import approval_sensor
from sensors.events import hubspot_event_sensor
from tests.conftest import make_settings
from tests.support import decide_approval, hubspot_event, ingest_events
from tests.vendor_sandbox import SandboxServer, sandbox_config

REPO = Path(__file__).resolve().parents[2]


def _dispatch(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    return list(hubspot_event_sensor(dg.build_sensor_context(instance=instance)) or [])


def _run_in_subprocess(
    request: dg.RunRequest, env: dict[str, str], *, timeout: float = 120
) -> dict[str, Any]:
    """Execute the requested run in a new Python process, as a run worker would."""
    assert request.job_name is not None
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.orchestration.run_job",
            request.job_name,
            json.dumps(request.run_config),
            json.dumps(request.tags),
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout + result.stderr
    outcome: dict[str, Any] = json.loads(lines[-1])
    outcome["stderr"] = result.stderr
    return outcome


@pytest.fixture
def job_env(dagster_env: dict[str, str], sandbox: SandboxServer) -> dict[str, str]:
    """The environment of a run worker: the test database, this instance, the sandbox."""
    return {**os.environ, **dagster_env, "SANDBOX_URL": sandbox.base_url}


def _run_row(db: psycopg.Connection[Any], workflow_run_id: int) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT status, outcome, dagster_run_id FROM orchestrator.workflow_runs WHERE id = %s",
        (workflow_run_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_definitions_snapshot() -> None:
    """Renames show up here in review: assets, jobs and sensors of the code location."""
    from orchestrator_defs.definitions import defs

    repo = defs.get_repository_def()
    assert {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()} == {
        "hubspot/events",
        "hubspot/deliveries",
        "airtable/accounts",
        "notion/sop_links",
        "hubspot/contact_roles",
        "airtable/contacts",
        "airtable/access_checklists",
        "google/drive_copies",
        "kickoff/proposals",
        "google/calendar_events",
        "airtable/kickoffs",
        "notion/kickoff_links",
        "ops/procurement_requests",
        "ops/purchase_orders",
        "ops/budget_commitments",
        "audit/workflow_runs",
        "audit/side_effects",
        "audit/exceptions",
        "audit/approvals",
        "audit/workflow_run_attempts",
        "audit/budget_commitments",
        "audit/audit_log",
    }
    assert {job.name for job in repo.get_all_jobs() if not job.name.startswith("__")} == {
        "company_intake",
        "contact_role_mapping",
        "deal_kickoff",
        "deal_kickoff_continuation",
        "deal_kickoff_closure",
        "procurement_approval",
        "procurement_continuation",
        "procurement_closure",
        "approval_deadlines",
        "recover_missed_webhooks",
        "reconcile_mirrors",
    }
    assert {
        (key.asset_key.to_user_string(), key.name) for key in repo.asset_graph.asset_check_keys
    } == {
        ("kickoff/proposals", "approved"),
        ("ops/procurement_requests", "approved"),
        ("airtable/accounts", "mirror_drifts"),
        ("airtable/contacts", "mirror_drifts"),
        ("google/calendar_events", "mirror_drifts"),
    }
    assert {schedule.name for schedule in repo.schedule_defs} == {
        "approval_deadlines_schedule",
        "recover_missed_webhooks_schedule",
        "reconcile_mirrors_schedule",
    }
    assert {sensor.name for sensor in repo.sensor_defs} == {
        "hubspot_event_sensor",
        "approval_sensor",
        "workflow_run_failure_sensor",
        "workflow_run_canceled_sensor",
        "run_worker_watchdog",
        "metrics_history_fold",
    }
    graph = repo.asset_graph
    calendar = dg.AssetKey(["google", "calendar_events"])
    assert dg.AssetKey(["kickoff", "proposals"]) in graph.get(calendar).parent_keys
    assert calendar in graph.get(dg.AssetKey(["audit", "workflow_runs"])).parent_keys


def test_company_intake_job_materializes_with_lineage_metadata(
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    sandbox: SandboxServer,
) -> None:
    (envelope_id,) = ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    (request,) = _dispatch(dagster_instance)
    defs = build_definitions(make_settings(database_url, sandbox_url=sandbox.base_url))

    result = defs.resolve_job_def("company_intake").execute_in_process(
        run_config=request.run_config, instance=dagster_instance, tags=request.tags
    )

    assert result.success
    materialized = {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }
    assert set(materialized) == {"airtable/accounts", "notion/sop_links"}
    accounts = materialized["airtable/accounts"]
    assert accounts["envelope_ids"].value == [envelope_id]
    assert accounts["hubspot_object"].value == "company/9001"
    assert accounts["external_ids"].value[0].startswith("rec")
    workflow_run_id = int(request.tags["orchestrator/workflow_run_id"])
    assert _run_row(db, workflow_run_id) == ("succeeded", "mirrored", result.run_id)
    assert db.execute(
        "SELECT status FROM orchestrator.event_envelopes WHERE id = %s", (envelope_id,)
    ).fetchone() == ("processed",)
    run = dagster_instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags["workflow/outcome"] == "mirrored"


def test_kickoff_parks_in_one_process_and_resumes_in_another(
    dagster_instance: dg.DagsterInstance,
    job_env: dict[str, str],
    database_url: str,
    db: psycopg.Connection[Any],
    sandbox: SandboxServer,
) -> None:
    ingest_events(
        database_url,
        [
            hubspot_event(
                "deal.propertyChange",
                objectId=5001,
                propertyName="dealstage",
                propertyValue="contractsent",
            )
        ],
    )
    (request,) = _dispatch(dagster_instance)
    workflow_run_id = int(request.tags["orchestrator/workflow_run_id"])

    parked = _run_in_subprocess(request, job_env)
    assert parked["success"], parked["stderr"]
    assert parked["tags"]["approval/status"] == "pending"
    approval_id = int(parked["tags"]["approval/id"])
    assert _run_row(db, workflow_run_id)[0] == "awaiting_approval"
    assert sandbox.inspect("google/events")["events"] == []

    decide_approval(
        database_url,
        approval_id,
        verdict="approve",
        decider=Decider(
            identity="user:olivia@harborlabs.example",
            email="olivia@harborlabs.example",
            role="operator",
        ),
    )
    context = dg.build_sensor_context(instance=dagster_instance)
    (continuation,) = list(approval_sensor(context) or [])
    assert continuation.run_key == f"approval:{approval_id}"
    assert continuation.job_name == "deal_kickoff_continuation"
    # Asked once: the next tick does not ask again.
    assert list(approval_sensor(dg.build_sensor_context(instance=dagster_instance)) or []) == []
    assert dagster_instance.get_run_by_id(parked["run_id"]).tags["approval/status"] == "approved"

    resumed = _run_in_subprocess(continuation, job_env)
    assert resumed["success"], resumed["stderr"]
    events = sandbox.inspect("google/events")["events"]
    assert len(events) == 1
    assert _run_row(db, workflow_run_id) == ("succeeded", "kickoff_scheduled", resumed["run_id"])
    kinds = db.execute(
        "SELECT kind FROM orchestrator.workflow_run_attempts WHERE workflow_run_id = %s"
        " ORDER BY started_at",
        (workflow_run_id,),
    ).fetchall()
    assert kinds == [("start",), ("continuation",)]

    # The same continuation executed again (a re-execution from the UI) writes nothing new.
    again = _run_in_subprocess(continuation, job_env)
    assert again["success"], again["stderr"]
    assert len(sandbox.inspect("google/events")["events"]) == 1


def test_a_worker_killed_mid_workflow_resumes_without_repeating_a_write(
    dagster_instance: dg.DagsterInstance,
    job_env: dict[str, str],
    database_url: str,
    db: psycopg.Connection[Any],
    sandbox: SandboxServer,
) -> None:
    ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    (request,) = _dispatch(dagster_instance)
    workflow_run_id = int(request.tags["orchestrator/workflow_run_id"])
    # The first write lands; the worker then hangs on a slow vendor and is killed there.
    sandbox.configure(sandbox_config(notion={"faults": {"slow_share": 1.0, "slow_seconds": 60}}))
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.orchestration.run_job",
            "company_intake",
            json.dumps(request.run_config),
            json.dumps(request.tags),
        ],
        env=job_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Once the Airtable mirror is checkpointed, the worker is inside the Notion step.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "mirror_account" not in _steps(db, workflow_run_id):
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.2)
        assert "mirror_account" in _steps(db, workflow_run_id), "the worker never got there"
        time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    assert any(key.startswith("airtable PATCH") for key in _vendor_writes(sandbox))

    sandbox.configure(sandbox_config())
    resumed = _run_in_subprocess(request, job_env)

    assert resumed["success"], resumed["stderr"]
    assert _run_row(db, workflow_run_id)[:2] == ("succeeded", "mirrored")
    writes_after = _vendor_writes(sandbox)
    # The write that completed before the kill was not repeated; each ledger entry's write
    # reached Airtable exactly once.
    thread_id = request.tags["langgraph/thread_id"]
    effects = db.execute(
        "SELECT step, target, status, attempts FROM orchestrator.side_effects WHERE thread_id = %s",
        (thread_id,),
    ).fetchall()
    attempts_by_step = {step: attempts for step, _, _, attempts in effects}
    assert attempts_by_step["mirror_account"] == 1
    assert all(status == "succeeded" for _, _, status, _ in effects)
    airtable_entries = sum(target.startswith("airtable:") for _, target, _, _ in effects)
    assert writes_after["airtable PATCH /airtable/v0/appOrchestratorOps/Accounts"] == (
        airtable_entries
    )
    sop_pages = [
        page
        for page in sandbox.inspect("notion/pages")["pages"]
        if page["properties"]["title"]["title"][0]["plain_text"].endswith(": Northwind Traders")
    ]
    assert len(sop_pages) == 1
    attempts = db.execute(
        "SELECT kind FROM orchestrator.workflow_run_attempts WHERE workflow_run_id = %s"
        " ORDER BY started_at",
        (workflow_run_id,),
    ).fetchall()
    assert attempts == [("start",), ("resume",)]


def _vendor_writes(sandbox: SandboxServer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for vendor in ("airtable", "notion", "hubspot", "google"):
        for row in sandbox.requests(vendor):
            if row["method"] in ("POST", "PATCH", "PUT") and row["outcome"] in ("ok", "slow"):
                key = f"{vendor} {row['method']} {row['path']}"
                counts[key] = counts.get(key, 0) + 1
    return counts


def _steps(db: psycopg.Connection[Any], workflow_run_id: int) -> list[str]:
    row = db.execute(
        "SELECT steps FROM orchestrator.workflow_runs WHERE id = %s", (workflow_run_id,)
    ).fetchone()
    return list(row[0]) if row else []
