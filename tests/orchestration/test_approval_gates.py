"""Approvals through Dagster on a real instance, against the sandbox: the blocking asset check
stops a guarded side effect without an approved decision (whoever launches the run), rejections
and expiries close the workflow through the closure jobs, escalations reach the hook, and an
approval keeps the policy it was requested under after the policy file changes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import psycopg
import pytest

from orchestrator_core.records.approval_rules import Decider
from orchestrator_core.records.approvals import get_approval
from orchestrator_core.settings import DEFAULT_POLICY_PATH, get_settings
from orchestrator_defs.definitions import build_definitions
from sensors.approvals import approval_sensor
from sensors.events import hubspot_event_sensor
from tests.conftest import make_settings
from tests.support import decide_approval, hubspot_event, ingest_events
from tests.vendor_sandbox import SandboxServer

# As the API records the decision of an account (`user:<email>`).
OPERATOR = Decider(
    identity="user:olivia@harborlabs.example", email="olivia@harborlabs.example", role="admin"
)


@pytest.fixture
def defs(database_url: str, sandbox: SandboxServer, dagster_env: dict[str, str]) -> dg.Definitions:
    return build_definitions(make_settings(database_url, sandbox_url=sandbox.base_url))


def _execute(
    defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest
) -> dg.ExecuteInProcessResult:
    assert request.job_name is not None
    return defs.resolve_job_def(request.job_name).execute_in_process(
        run_config=request.run_config,
        instance=instance,
        tags=request.tags,
        raise_on_error=False,
    )


def _park(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    database_url: str,
    event: dict[str, Any],
) -> tuple[int, int]:
    """Ingest one event, launch its run like the sensor, let it park; (workflow run, approval)."""
    ingest_events(database_url, [event])
    (request,) = list(hubspot_event_sensor(dg.build_sensor_context(instance=instance)) or [])
    result = _execute(defs, instance, request)
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags["approval/status"] == "pending"
    return int(request.tags["orchestrator/workflow_run_id"]), int(run.tags["approval/id"])


def _continuation(instance: dg.DagsterInstance) -> dg.RunRequest:
    (request,) = list(approval_sensor(dg.build_sensor_context(instance=instance)) or [])
    return request


def _deal_stage(deal_id: int, stage: str = "contractsent") -> dict[str, Any]:
    return hubspot_event(
        "deal.propertyChange", objectId=deal_id, propertyName="dealstage", propertyValue=stage
    )


def _deal_amount(deal_id: int, amount: str) -> dict[str, Any]:
    return hubspot_event(
        "deal.propertyChange", objectId=deal_id, propertyName="amount", propertyValue=amount
    )


def _workflow_run(db: psycopg.Connection[Any], workflow_run_id: int) -> tuple[str, str]:
    row = db.execute(
        "SELECT status, outcome FROM orchestrator.workflow_runs WHERE id = %s",
        (workflow_run_id,),
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def _check_results(result: dg.ExecuteInProcessResult) -> list[tuple[bool, str | None]]:
    return [
        (evaluation.passed, evaluation.description)
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        for evaluation in [event.asset_check_evaluation_data]
    ]


def test_a_hand_launched_run_without_approval_is_stopped_by_the_gate(
    defs: dg.Definitions,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    sandbox: SandboxServer,
) -> None:
    workflow_run_id, approval_id = _park(defs, dagster_instance, database_url, _deal_stage(5001))
    op = "run_deal_kickoff_continuation"
    config = {
        "ops": {op: {"config": {"workflow_run_id": workflow_run_id, "approval_id": approval_id}}}
    }
    job = defs.resolve_job_def("deal_kickoff_continuation")

    # As a person would launch it from the UI: the pending approval named in the tags...
    named = job.execute_in_process(
        run_config=config,
        instance=dagster_instance,
        tags={
            "approval/id": str(approval_id),
            "orchestrator/workflow_run_id": str(workflow_run_id),
        },
        raise_on_error=False,
    )
    # ... or no approval at all.
    unnamed = job.execute_in_process(
        run_config=config, instance=dagster_instance, raise_on_error=False
    )

    for result in (named, unnamed):
        assert not result.success
        ((passed, _),) = _check_results(result)
        assert passed is False
        assert result.get_asset_materialization_events() == []
    assert _check_results(named)[0][1] == f"approval {approval_id} is pending, not approved"
    assert "names no approval" in str(_check_results(unnamed)[0][1])
    assert sandbox.inspect("google/events")["events"] == []
    approval = get_approval(db, approval_id)
    assert approval is not None and approval.status == "pending"
    assert approval.continuation_run_id is None
    assert _workflow_run(db, workflow_run_id)[0] == "awaiting_approval"


def test_approved_procurement_writes_one_purchase_order(
    defs: dg.Definitions,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    sandbox: SandboxServer,
) -> None:
    workflow_run_id, approval_id = _park(
        defs, dagster_instance, database_url, _deal_amount(5002, "125000")
    )
    decide_approval(
        database_url, approval_id, verdict="approve", decider=OPERATOR, note="fits Q4 plan"
    )
    request = _continuation(dagster_instance)
    assert request.job_name == "procurement_continuation"

    first = _execute(defs, dagster_instance, request)
    again = _execute(defs, dagster_instance, request)  # a second launch of the same decision

    assert first.success and again.success
    assert _check_results(first) == [
        (True, f"approval {approval_id} approved by {OPERATOR.identity}")
    ]
    materialized = {
        e.asset_key.to_user_string()
        for e in first.get_asset_materialization_events()
        if e.asset_key
    }
    assert materialized == {"ops/purchase_orders", "ops/budget_commitments"}
    orders = sandbox.inspect("airtable/appOrchestratorOps/Purchase Orders")["records"]
    assert len(orders) == 1
    assert db.execute("SELECT count(*) FROM orchestrator.budget_commitments").fetchone() == (1,)
    assert _workflow_run(db, workflow_run_id) == ("succeeded", "purchase_order_created")


def test_a_rejection_closes_the_workflow_without_the_side_effect(
    defs: dg.Definitions,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    sandbox: SandboxServer,
) -> None:
    workflow_run_id, approval_id = _park(defs, dagster_instance, database_url, _deal_stage(5001))
    decide_approval(
        database_url, approval_id, verdict="reject", decider=OPERATOR, note="customer paused"
    )
    request = _continuation(dagster_instance)
    assert request.job_name == "deal_kickoff_closure"
    assert request.run_key == f"approval:{approval_id}"

    result = _execute(defs, dagster_instance, request)

    assert result.success
    assert result.get_asset_materialization_events() == []
    assert sandbox.inspect("google/events")["events"] == []
    notes = sandbox.inspect("hubspot/notes")["results"]
    assert any("customer paused" in n["properties"]["hs_note_body"] for n in notes)
    assert _workflow_run(db, workflow_run_id) == ("succeeded", "rejected")
    parked_run_id = get_approval(db, approval_id).requested_run_id  # type: ignore[union-attr]
    assert dagster_instance.get_run_by_id(parked_run_id).tags["approval/status"] == "rejected"

    # The closure job refuses an approved approval: only the gated job may write the event.
    other_run, other_approval = _park(defs, dagster_instance, database_url, _deal_stage(5002))
    decide_approval(database_url, other_approval, verdict="approve", decider=OPERATOR)
    wrong = defs.resolve_job_def("deal_kickoff_closure").execute_in_process(
        run_config={
            "ops": {
                "run_deal_kickoff_continuation": {
                    "config": {"workflow_run_id": other_run, "approval_id": other_approval}
                }
            }
        },
        instance=dagster_instance,
        raise_on_error=False,
    )
    assert not wrong.success
    assert sandbox.inspect("google/events")["events"] == []


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def escalation_hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received = []
    monkeypatch.setenv("ESCALATION_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    get_settings.cache_clear()
    try:
        yield _Hook.received
    finally:
        server.shutdown()


def test_deadlines_expire_and_escalate_then_the_expiry_closes_the_workflow(
    database_url: str,
    sandbox: SandboxServer,
    dagster_env: dict[str, str],
    dagster_instance: dg.DagsterInstance,
    db: psycopg.Connection[Any],
    escalation_hook: list[dict[str, Any]],
) -> None:
    defs = build_definitions(get_settings().model_copy(update={"sandbox_url": sandbox.base_url}))
    overdue_run, overdue = _park(defs, dagster_instance, database_url, _deal_amount(5002, "125000"))
    _, near_due = _park(defs, dagster_instance, database_url, _deal_amount(5017, "145000"))
    now = datetime.now(UTC)
    db.execute(
        "UPDATE orchestrator.approvals SET due_at = %s WHERE id = %s",
        (now - timedelta(minutes=1), overdue),
    )
    db.execute(  # inside the policy's 12-hour escalation lead
        "UPDATE orchestrator.approvals SET due_at = %s WHERE id = %s",
        (now + timedelta(hours=2), near_due),
    )

    result = defs.resolve_job_def("approval_deadlines").execute_in_process(
        instance=dagster_instance
    )
    assert result.success
    assert result.output_for_node("enforce_approval_deadlines") == {"expired": 1, "escalated": 1}
    # Run again: nothing is expired or escalated twice.
    rerun = defs.resolve_job_def("approval_deadlines").execute_in_process(instance=dagster_instance)
    assert rerun.output_for_node("enforce_approval_deadlines") == {"expired": 0, "escalated": 0}

    expired = get_approval(db, overdue)
    assert expired is not None and expired.status == "expired" and expired.decided_by == "schedule"
    kinds = db.execute(
        "SELECT kind, status FROM orchestrator.exceptions WHERE workflow_run_id = %s",
        (overdue_run,),
    ).fetchall()
    assert ("approval_expired", "open") in kinds
    escalated = get_approval(db, near_due)
    assert escalated is not None and escalated.status == "pending" and escalated.escalated_at
    assert [hook["approval_id"] for hook in escalation_hook] == [near_due]
    audit = db.execute(
        "SELECT action, entity_id FROM orchestrator.audit_log WHERE action IN"
        " ('approval.expired', 'approval.escalated') ORDER BY id"
    ).fetchall()
    assert audit == [("approval.expired", str(overdue)), ("approval.escalated", str(near_due))]

    request = _continuation(dagster_instance)
    assert request.job_name == "procurement_closure"
    closed = _execute(defs, dagster_instance, request)
    assert closed.success
    assert _workflow_run(db, overdue_run) == ("succeeded", "expired")
    assert sandbox.inspect("airtable/appOrchestratorOps/Purchase Orders")["records"] == []


def test_an_approval_keeps_the_policy_it_was_requested_under(
    database_url: str,
    sandbox: SandboxServer,
    dagster_env: dict[str, str],
    dagster_instance: dg.DagsterInstance,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(DEFAULT_POLICY_PATH.read_text())
    monkeypatch.setenv("POLICY_PATH", str(policy_file))
    get_settings.cache_clear()
    defs = build_definitions(get_settings().model_copy(update={"sandbox_url": sandbox.base_url}))
    _, first = _park(defs, dagster_instance, database_url, _deal_amount(5002, "125000"))
    before = get_approval(db, first)
    assert before is not None

    # The policy changes: a new version with a lower threshold.
    policy_file.write_text(
        DEFAULT_POLICY_PATH.read_text()
        .replace('version: "2026-11-25.1"', 'version: "2026-12-01.1"')
        .replace("threshold: 50000", "threshold: 20000")
    )
    _, second = _park(defs, dagster_instance, database_url, _deal_amount(5017, "145000"))

    after = get_approval(db, first)
    newer = get_approval(db, second)
    assert after is not None and newer is not None
    assert after.policy_snapshot == before.policy_snapshot
    assert after.policy_version == "2026-11-25.1"
    assert after.policy_snapshot["sections"]["procurement"]["threshold"] == "50000"
    assert newer.policy_version == "2026-12-01.1"
    assert newer.policy_snapshot["sections"]["procurement"]["threshold"] == "20000"
    assert newer.policy_hash != after.policy_hash
