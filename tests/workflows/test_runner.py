"""The workflow runner on a small graph of its own: start, park at an approval, continue with a
decision, resume after a failure without repeating a write, and the run and envelope statuses
it writes back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from orchestrator_core.ledger import WriteResult
from orchestrator_core.policy import policy_snapshot
from orchestrator_defs.runtime.runner import WorkflowFailed, WorkflowRetryable
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.state import (
    Decision,
    WorkflowState,
    approval_request,
    artifact,
    issue,
)
from resources.errors import BadDataError, TransientConnectorError
from tests.workflows.conftest import WorkflowHarness, event

# What the test graph's nodes do, switched per test.
BEHAVIOUR: dict[str, Any] = {}
WRITES: list[str] = []


class ToyState(WorkflowState, total=False):
    decision: str


def write(state: ToyState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    ctx = runtime.context

    def do_write(key: str) -> WriteResult:
        WRITES.append(key)
        return WriteResult(external_id=f"rec-{len(WRITES)}")

    entry = ctx.write_once(step="write", target="toy:record", write=do_write)
    return {
        "artifacts": [
            artifact(
                asset="airtable/accounts",
                system="airtable",
                external_id=entry.external_id,
                description="toy record",
            )
        ],
        "issues": [
            issue(kind="data_quality", severity="warning", message="odd data", step="write")
        ],
    }


def flaky(state: ToyState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    failure = BEHAVIOUR.pop("flaky", None)
    if failure is not None:
        raise failure
    return {}


def ask(state: ToyState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    ctx = runtime.context
    decision: Decision = interrupt(
        approval_request(
            kind="kickoff",
            proposal={"slot": "tomorrow"},
            reason="policy says so",
            policy_snapshot=policy_snapshot(ctx.policy, sections=["deal_kickoff"]),
            approver_role="operator",
            due_at=ctx.now() + timedelta(hours=24),
            requested_by="hubspot:userId:45678",
            requested_by_email="sam.sales@harborlabs.example",
        )
    )
    return {"decision": decision["decision"]}


def finish(state: ToyState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    return {"outcome": f"decided_{state['decision']}", "outcome_message": "done"}


def build_toy_graph() -> StateGraph[Any, Any, Any, Any]:
    graph: StateGraph[Any, Any, Any, Any] = StateGraph(ToyState, context_schema=WorkflowContext)
    graph.add_node("write", write)
    graph.add_node("flaky", flaky)
    graph.add_node("ask", ask)
    graph.add_node("finish", finish)
    graph.add_edge(START, "write")
    graph.add_edge("write", "flaky")
    graph.add_edge("flaky", "ask")
    graph.add_edge("ask", "finish")
    graph.add_edge("finish", END)
    return graph


@pytest.fixture
def toy(harness: WorkflowHarness) -> WorkflowHarness:
    BEHAVIOUR.clear()
    WRITES.clear()
    harness.graphs = {"company_intake": build_toy_graph}
    return harness


def _start(toy: WorkflowHarness) -> Any:
    return toy.start([event("company.creation", 9001)], "company_intake")


def test_park_then_continue_with_a_decision(toy: WorkflowHarness) -> None:
    run = _start(toy)
    parked = toy.drive(run)

    assert parked.status == "awaiting_approval"
    assert [a["asset"] for a in parked.artifacts] == ["airtable/accounts"]
    (approval,) = parked.approvals
    assert approval.status == "pending" and approval.approver_role == "operator"
    assert approval.policy_snapshot["version"] == toy.policy.version
    assert "deal_kickoff" in approval.policy_snapshot["sections"]
    stored = toy.get_run(run.id)
    assert stored.status == "awaiting_approval"
    assert stored.steps == ["write", "flaky"]
    envelope_status = toy.db.execute(
        "SELECT status FROM orchestrator.event_envelopes WHERE id = %s", (run.envelope_ids[0],)
    ).fetchone()
    assert envelope_status == ("awaiting_approval",)
    # The data-quality issue became one exception.
    assert [e["kind"] for e in toy.exceptions(run.id)] == ["data_quality"]

    # Driving again without a decision changes nothing: still parked, one approval.
    again = toy.drive(run)
    assert again.status == "awaiting_approval" and again.approvals[0].id == approval.id

    decision = toy.decide(approval, "approve")
    done = toy.drive(run, decision=decision)
    assert done.status == "succeeded" and done.outcome == "decided_approve"
    assert done.artifacts == []  # the write happened in the first execution
    assert len(WRITES) == 1
    stored = toy.get_run(run.id)
    assert stored.status == "succeeded"
    assert stored.steps[-2:] == ["ask", "finish"]
    assert len(toy.exceptions(run.id)) == 1  # re-read issues do not open a second one

    # A re-executed run finds the thread finished.
    assert toy.drive(run).status == "already_done"

    # The audit log has each change once, in order: the run's statuses (the second drive
    # started and parked it again), its exception and its approval; re-reading the issues,
    # re-parking at the same interrupt and finding the thread finished add nothing.
    (exception,) = toy.exceptions(run.id)
    audited = toy.db.execute(
        "SELECT action, before->>'status', after->>'status' FROM orchestrator.audit_log"
        " WHERE (entity_type, entity_id) IN"
        " (('workflow_run', %s), ('approval', %s), ('exception', %s)) ORDER BY id",
        (str(run.id), str(approval.id), str(exception["id"])),
    ).fetchall()
    assert audited == [
        ("run.launched", None, "requested"),
        ("run.started", "requested", "running"),
        ("exception.opened", None, "open"),
        ("approval.requested", None, "pending"),
        ("run.parked", "running", "awaiting_approval"),
        ("run.started", "awaiting_approval", "running"),
        ("run.parked", "running", "awaiting_approval"),
        ("approval.approved", "pending", "approved"),
        ("run.started", "awaiting_approval", "running"),
        ("run.finished", "running", "succeeded"),
    ]


def test_transient_failure_retries_then_resumes_without_repeating_the_write(
    toy: WorkflowHarness,
) -> None:
    run = _start(toy)
    BEHAVIOUR["flaky"] = TransientConnectorError(
        "airtable upsert failed: HTTP 503", vendor="airtable", operation="upsert", status=503
    )
    with pytest.raises(WorkflowRetryable):
        toy.drive(run, final=False)
    assert toy.get_run(run.id).status == "running"

    parked = toy.drive(run)
    assert parked.status == "awaiting_approval"
    assert len(WRITES) == 1
    assert [e["status"] for e in toy.side_effects(run.thread_id)] == ["succeeded"]


def test_permanent_failure_fails_the_run_with_an_exception(toy: WorkflowHarness) -> None:
    run = _start(toy)
    BEHAVIOUR["flaky"] = BadDataError(
        "hubspot update failed: HTTP 400: bad property",
        vendor="hubspot",
        operation="update",
        status=400,
    )
    with pytest.raises(WorkflowFailed) as failed:
        toy.drive(run, final=False)
    stored = toy.get_run(run.id)
    assert stored.status == "failed"
    exceptions = {e["kind"]: e for e in toy.exceptions(run.id)}
    assert failed.value.exception_id == exceptions["connector_permanent"]["id"]
    assert exceptions["connector_permanent"]["step"] == "flaky"
    assert "correct the record" in exceptions["connector_permanent"]["suggested_fix"]
    envelope_status = toy.db.execute(
        "SELECT status FROM orchestrator.event_envelopes WHERE id = %s", (run.envelope_ids[0],)
    ).fetchone()
    assert envelope_status == ("failed",)

    # Re-executing after the fix resumes at the failed node, the write is not repeated.
    parked = toy.drive(run)
    assert parked.status == "awaiting_approval"
    assert len(WRITES) == 1


def test_exhausted_retries_fail_the_run(toy: WorkflowHarness) -> None:
    run = _start(toy)
    BEHAVIOUR["flaky"] = TransientConnectorError(
        "notion append failed: HTTP 502", vendor="notion", operation="append", status=502
    )
    with pytest.raises(WorkflowFailed):
        toy.drive(run, final=True)
    (exception,) = [e for e in toy.exceptions(run.id) if e["kind"] == "retries_exhausted"]
    assert exception["severity"] == "error"
    assert "notion" in exception["message"]
    assert toy.get_run(run.id).status == "failed"
