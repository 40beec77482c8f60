"""The procurement approval workflow against the sandbox over HTTP: park with a pending record
and budget figures, approve (purchase order, budget commitment, record approved), continue
twice, lower the amount, reject, below threshold, another currency, over budget, a bad amount,
and a second change while an approval is pending.

Seeded deals: 5002 Acme 125,000 USD (no cost centre: CC-9000, 250,000 EUR a year), 5005
Müller & Söhne 86,000 EUR, 5004 Initech 9,000 USD, 5013 without an amount."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from orchestrator_core.records.approval_rules import DecisionRefused
from orchestrator_core.records.budget import commit_spend
from orchestrator_core.records.runs import WorkflowRun
from orchestrator_defs.runtime.runner import DriveResult
from orchestrator_defs.workflows.procurement_approval.rules import money, parse_amount
from orchestrator_defs.workflows.state import Decision
from resources.hubspot import HubSpotConnector
from tests.vendor_sandbox import BASE_ID, hubspot_for
from tests.workflows.conftest import WorkflowHarness, event

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def procurement(harness: WorkflowHarness) -> WorkflowHarness:
    harness.now = NOW
    return harness


@pytest.fixture
def hubspot(procurement: WorkflowHarness) -> Iterator[HubSpotConnector]:
    connector = hubspot_for(procurement.sandbox)
    yield connector
    connector.close()


def amount_change(deal_id: int, amount: str) -> dict[str, Any]:
    return event("deal.propertyChange", deal_id, propertyName="amount", propertyValue=amount)


def park(
    procurement: WorkflowHarness, deal_id: int, amount: str
) -> tuple[WorkflowRun, DriveResult]:
    run = procurement.start([amount_change(deal_id, amount)], "procurement_approval")
    parked = procurement.drive(run)
    assert parked.status == "awaiting_approval", parked.message
    return run, parked


def records(procurement: WorkflowHarness, table: str) -> list[dict[str, Any]]:
    rows = procurement.sandbox.inspect(f"airtable/{BASE_ID}/{table}")["records"]
    return [row["fields"] for row in rows]


def commitments(procurement: WorkflowHarness) -> list[tuple[Any, ...]]:
    return procurement.db.execute(
        "SELECT cost_centre, fiscal_year, purchase_order, deal_id, amount, currency"
        " FROM orchestrator.budget_commitments ORDER BY id"
    ).fetchall()


def kinds(procurement: WorkflowHarness, run: WorkflowRun) -> dict[str, dict[str, Any]]:
    return {e["kind"]: e for e in procurement.exceptions(run.id)}


def test_a_large_deal_parks_with_a_pending_record_and_budget_figures(
    procurement: WorkflowHarness,
) -> None:
    run, parked = park(procurement, 5002, "125000")

    (approval,) = parked.approvals
    assert approval.kind == "procurement" and approval.approver_role == "admin"
    assert approval.due_at == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert approval.requested_by == "hubspot:userId:45678"
    assert set(approval.policy_snapshot["sections"]) == {"procurement", "approvals"}
    assert "125,000 USD" in approval.reason and "50,000 EUR" in approval.reason
    assert "exchange rates" in approval.reason
    proposal = approval.proposal
    request_id = f"PR-5002-{run.id}"
    assert proposal["request_id"] == request_id
    assert (proposal["amount"], proposal["currency"]) == ("125000.00", "USD")
    assert proposal["vendor"] == "acme corp., inc"
    assert proposal["requester"] == "lukas.becker@harborlabs.example"
    assert proposal["cost_centre"] == {"code": "CC-9000", "name": "Central (unassigned)"}
    assert proposal["budget"] == {
        "currency": "EUR",
        "fiscal_year": 2026,
        "annual_budget": "250000",
        "committed": "0",
        "remaining": "250000",
        "remaining_after": None,
        "currency_mismatch": True,
    }

    (record,) = records(procurement, "Procurement")
    assert record["Request ID"] == request_id
    assert record["Status"] == "Pending approval"
    assert (record["Amount"], record["Currency"], record["Cost centre"]) == (
        125000,
        "USD",
        "CC-9000",
    )
    assert record["Budget left"] == 250000
    assert record["Deal link"].endswith("/record/0-3/5002")
    assert [a["asset"] for a in parked.artifacts] == ["ops/procurement_requests"]
    assert records(procurement, "Purchase Orders") == []
    assert commitments(procurement) == []


def test_approval_creates_one_purchase_order_and_commits_the_budget(
    procurement: WorkflowHarness,
) -> None:
    run, parked = park(procurement, 5002, "125000")
    decision = procurement.decide(
        parked.approvals[0], "approve", decided_by="admin@harborlabs.example"
    )

    done = procurement.drive(run, decision=decision)

    assert done.status == "succeeded" and done.outcome == "purchase_order_created"
    po_number = f"PO-5002-{run.id}"
    assert [a["asset"] for a in done.artifacts] == [
        "ops/purchase_orders",
        "ops/budget_commitments",
        "ops/procurement_requests",
        "hubspot/notes",
    ]
    (order,) = records(procurement, "Purchase Orders")
    assert order["PO Number"] == po_number
    assert (order["Amount"], order["Currency"], order["Cost centre"]) == (125000, "USD", "CC-9000")
    assert order["Approved by"] == "admin@harborlabs.example"
    assert commitments(procurement) == [
        ("CC-9000", 2026, po_number, 5002, Decimal("125000.00"), "USD")
    ]
    (request,) = records(procurement, "Procurement")
    assert (request["Status"], request["PO Number"]) == ("Approved", po_number)
    # A USD order charged to a EUR budget is flagged for a person.
    assert set(kinds(procurement, run)) == {"budget_currency_mismatch"}

    # Continuing again (a second continuation run) changes nothing.
    again = procurement.drive(run, decision=decision)
    assert again.status == "already_done"
    assert len(records(procurement, "Purchase Orders")) == 1
    assert len(commitments(procurement)) == 1
    assert all(e["status"] == "succeeded" for e in procurement.side_effects(run.thread_id))
    # The commitment (money) is audited once, with what it charged.
    audited = procurement.db.execute(
        "SELECT after->>'purchase_order', after->>'amount', after->>'cost_centre'"
        " FROM orchestrator.audit_log WHERE action = 'budget.committed'"
    ).fetchall()
    assert audited == [(po_number, "125000.00", "CC-9000")]


def test_the_approver_can_lower_the_amount_but_not_raise_it(
    procurement: WorkflowHarness, hubspot: HubSpotConnector
) -> None:
    hubspot.update_properties(
        object_type="deals", object_id="5005", properties={"cost_centre": "cc-1000"}
    )
    run, parked = park(procurement, 5005, "86000")
    proposal = parked.approvals[0].proposal
    assert proposal["cost_centre"]["code"] == "CC-1000"
    assert proposal["budget"]["remaining_after"] == "1114000.00"
    reason = parked.approvals[0].reason
    assert reason == "Deal amount 86,000 EUR is at or above the 50,000 EUR threshold."

    lowered = procurement.decide(parked.approvals[0], "approve", edits={"amount": "45000"})
    done = procurement.drive(run, decision=lowered)

    assert done.outcome == "purchase_order_created"
    assert records(procurement, "Purchase Orders")[0]["Amount"] == 45000
    assert commitments(procurement)[0][4] == Decimal("45000.00")
    assert procurement.exceptions(run.id) == []

    other, parked_again = park(procurement, 5017, "145000")
    # Recording a raised amount is refused; the graph still guards against one that reaches it.
    with pytest.raises(DecisionRefused) as refused:
        procurement.decide(parked_again.approvals[0], "approve", edits={"amount": "999999"})
    assert refused.value.code == "invalid_edits" and "edits.amount" in refused.value.message
    raised = Decision(
        approval_id=parked_again.approvals[0].id,
        decision="approve",
        decided_by="admin@harborlabs.example",
        note=None,
        edits={"amount": "999999"},
    )
    procurement.drive(other, decision=raised)
    assert commitments(procurement)[1][4] == Decimal("145000.00")
    assert set(kinds(procurement, other)) == {"invalid_approval_edit"}


def test_rejection_closes_the_record_without_an_order(procurement: WorkflowHarness) -> None:
    run, parked = park(procurement, 5002, "125000")
    decision = procurement.decide(parked.approvals[0], "reject", note="Budget frozen until Q1")

    done = procurement.drive(run, decision=decision)

    assert done.outcome == "rejected"
    assert records(procurement, "Purchase Orders") == []
    assert commitments(procurement) == []
    (request,) = records(procurement, "Procurement")
    assert request["Status"] == "Rejected"
    notes = procurement.sandbox.inspect("hubspot/notes")["results"]
    (note,) = [n for n in notes if "5002" in str(n["associations"])]
    assert "Budget frozen until Q1" in note["properties"]["hs_note_body"]


def test_below_the_threshold_nothing_is_written(
    procurement: WorkflowHarness, hubspot: HubSpotConnector
) -> None:
    # Seeded in USD (which always needs approval); in EUR 9,000 is below 50,000.
    hubspot.update_properties(
        object_type="deals", object_id="5004", properties={"deal_currency_code": "EUR"}
    )
    run = procurement.start([amount_change(5004, "9000")], "procurement_approval")

    done = procurement.drive(run)

    assert done.status == "succeeded" and done.outcome == "below_threshold"
    assert done.approvals == [] and done.artifacts == []
    assert procurement.side_effects(run.thread_id) == []
    assert procurement.sandbox.requests("airtable") == []
    assert procurement.exceptions(run.id) == []


def test_another_currency_needs_approval_whatever_the_amount(procurement: WorkflowHarness) -> None:
    _, parked = park(procurement, 5004, "9000")

    assert "9,000 USD" in parked.approvals[0].reason
    assert parked.approvals[0].proposal["budget"]["currency_mismatch"] is True


def test_over_budget_opens_an_exception_with_the_figures(procurement: WorkflowHarness) -> None:
    run, parked = park(procurement, 5002, "125000")
    commit_spend(
        procurement.db,
        cost_centre="CC-9000",
        fiscal_year=2026,
        purchase_order="PO-EARLIER-1",
        deal_id=5999,
        amount=Decimal("200000"),
        currency="EUR",
        workflow_run_id=run.id,
    )

    done = procurement.drive(run, decision=procurement.decide(parked.approvals[0], "approve"))

    assert done.outcome == "purchase_order_created"
    over = kinds(procurement, run)["over_budget"]
    assert over["severity"] == "error"
    assert over["details"]["committed"] == "325000.00"
    assert over["details"]["annual_budget"] == "250000"
    assert over["details"]["over_by"] == "75000.00"
    assert "325,000" in over["message"] and "250,000 EUR" in over["message"]


def test_a_missing_amount_is_a_data_quality_problem(procurement: WorkflowHarness) -> None:
    run = procurement.start([amount_change(5013, "")], "procurement_approval")

    done = procurement.drive(run)

    assert done.outcome == "invalid_amount"
    problem = kinds(procurement, run)["data_quality"]
    assert problem["details"]["field"] == "amount"
    assert procurement.side_effects(run.thread_id) == []


def test_a_second_change_while_pending_is_already_pending(
    procurement: WorkflowHarness, hubspot: HubSpotConnector
) -> None:
    first, _ = park(procurement, 5002, "125000")
    hubspot.update_properties(
        object_type="deals", object_id="5002", properties={"amount": "130000"}
    )
    second = procurement.start([amount_change(5002, "130000")], "procurement_approval")

    done = procurement.drive(second)

    assert done.outcome == "already_pending"
    assert len(records(procurement, "Procurement")) == 1
    changed = kinds(procurement, second)["amount_changed_while_pending"]
    assert str(first.id) in changed["message"]


def test_amount_parsing_and_formatting() -> None:
    assert parse_amount("125000") == Decimal("125000.00")
    assert parse_amount(" 1,250.5 ") == Decimal("1250.50")
    assert parse_amount(None) is None
    assert parse_amount("") is None
    assert parse_amount("n/a") is None
    assert parse_amount("NaN") is None
    assert parse_amount("-5") is None
    assert money(Decimal("125000.00")) == "125,000"
    assert money(Decimal("45000.50")) == "45,000.50"
