"""The procurement approval's writing nodes: the procurement record pending approval (written
before the approval); once approved, the purchase order, the budget commitment and the Approved
record with a HubSpot note; once rejected or expired, the closed record and, when the policy
asks, a note.

Every vendor write goes through the side-effect ledger, keyed on the run, so a resumed run does
not repeat what it already wrote; the budget commitment is idempotent per purchase order in
Postgres (`records.budget.commit_spend`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from langgraph.runtime import Runtime

from orchestrator_core.ledger import WriteResult
from orchestrator_core.records.budget import commit_spend
from orchestrator_defs.workflows.common import Update, end, note_once
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.procurement_approval.rules import (
    approved_amount,
    budget_issues,
    build_proposal,
    deal_link,
    money,
)
from orchestrator_defs.workflows.procurement_approval.state import (
    ProcurementState,
    PurchaseOrder,
)
from orchestrator_defs.workflows.state import Artifact, artifact


def open_request(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """The procurement record in Airtable, pending approval, and the proposal for the approver."""
    ctx = runtime.context
    deal = state["deal"]
    budget = state["budget"]
    request_id = f"PR-{deal['id']}-{ctx.run.lineage_id}"
    table = ctx.options.tables.procurement
    fields: dict[str, Any] = {
        "Request ID": request_id,
        "HubSpot ID": deal["id"],
        "Deal name": deal["name"],
        "Company": deal["company_name"],
        "Status": "Pending approval",
        "Amount": float(Decimal(deal["amount"])),
        "Currency": deal["currency"],
        "Cost centre": budget["cost_centre"],
        "Budget left": float(Decimal(budget["remaining"])),
        "Budget currency": budget["currency"],
        "Deal link": deal_link(ctx.run, deal["id"]),
        "Requester": deal["owner_email"],
        "Workflow run": ctx.run.id,
    }
    entry = ctx.write_once(
        step="open_request",
        target=f"airtable:{table}:{request_id}",
        write=lambda key: _upsert_one(ctx, table, fields, key_field="Request ID"),
    )
    return {
        "request_id": request_id,
        "request_record_id": entry.external_id,
        "proposal": build_proposal(request_id, deal, budget),
        "proposed_at": ctx.now().isoformat(),
        "artifacts": [
            artifact(
                asset="ops/procurement_requests",
                system="airtable",
                external_id=entry.external_id,
                description=f"{request_id}: {money(Decimal(deal['amount']))} {deal['currency']}",
                details={"request_id": request_id, "status": "Pending approval"},
            )
        ],
    }


def create_purchase_order(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """The internal purchase order in Airtable, for the approved (possibly lowered) amount."""
    ctx = runtime.context
    deal = state["deal"]
    budget = state["budget"]
    amount, issues = approved_amount(Decimal(deal["amount"]), state["decision"])
    number = f"PO-{deal['id']}-{ctx.run.lineage_id}"
    table = ctx.options.tables.purchase_orders
    # The budget year is fixed when the order is written and kept in the ledger, so a
    # re-execution on New Year's Day charges the year the order says.
    fiscal_year = ctx.now().year
    fields: dict[str, Any] = {
        "PO Number": number,
        "Request ID": state["request_id"],
        "HubSpot ID": deal["id"],
        "Deal name": deal["name"],
        "Vendor": deal["company_name"],
        "Amount": float(amount),
        "Currency": deal["currency"],
        "Cost centre": budget["cost_centre"],
        "Fiscal year": fiscal_year,
        "Approval ID": state["decision"]["approval_id"],
        "Approved by": state["decision"]["decided_by"],
        "Status": "Issued",
    }

    def write(key: str) -> WriteResult:
        written = _upsert_one(ctx, table, fields, key_field="PO Number")
        return WriteResult(
            external_id=written.external_id,
            result={"amount": str(amount), "fiscal_year": fiscal_year},
        )

    entry = ctx.write_once(
        step="create_purchase_order", target=f"airtable:{table}:{number}", write=write
    )
    recorded = entry.result if isinstance(entry.result, dict) else {}
    order = PurchaseOrder(
        number=number,
        record_id=entry.external_id,
        amount=str(recorded.get("amount", amount)),
        currency=deal["currency"],
        fiscal_year=int(str(recorded.get("fiscal_year", fiscal_year))),
    )
    return {
        "purchase_order": order,
        "issues": issues,
        "artifacts": [
            artifact(
                asset="ops/purchase_orders",
                system="airtable",
                external_id=entry.external_id,
                description=f"{number}: {money(Decimal(order['amount']))} {order['currency']}",
                details={"po_number": number, "request_id": state["request_id"]},
            )
        ],
    }


def commit_budget(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """Charge the order to its cost centre (once per order) and flag what a person must see."""
    ctx = runtime.context
    order = state["purchase_order"]
    budget = state["budget"]
    amount = Decimal(order["amount"])
    with ctx.db.connection() as conn:
        position = commit_spend(
            conn,
            cost_centre=budget["cost_centre"],
            fiscal_year=order["fiscal_year"],
            purchase_order=order["number"],
            deal_id=int(state["deal"]["id"]),
            amount=amount,
            currency=order["currency"],
            workflow_run_id=ctx.run.id,
        )
    annual = Decimal(budget["annual_budget"])
    issues = budget_issues(order, budget, committed=position.committed, annual=annual)
    return {
        "issues": issues,
        "artifacts": [
            artifact(
                asset="ops/budget_commitments",
                system="postgres",
                external_id=order["number"],
                description=(
                    f"{money(amount)} {order['currency']} charged to {budget['cost_centre']}"
                    f" ({order['fiscal_year']})"
                ),
                details={
                    "cost_centre": budget["cost_centre"],
                    "fiscal_year": order["fiscal_year"],
                    "committed": str(position.committed),
                    "annual_budget": budget["annual_budget"],
                },
            )
        ],
    }


def mark_approved(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """The procurement record says Approved with its order; a note tells the deal's team."""
    ctx = runtime.context
    deal = state["deal"]
    order = state["purchase_order"]
    decision = state["decision"]
    artifacts = [
        _update_request(ctx, state, status="Approved", extra={"PO Number": order["number"]}),
    ]
    summary = (
        f"Purchase order {order['number']} issued for {money(Decimal(order['amount']))}"
        f" {order['currency']} (cost centre {state['budget']['cost_centre']}), approved by"
        f" {decision['decided_by'] or 'an admin'} (approval {decision['approval_id']})."
    )
    artifacts.append(
        note_once(
            ctx,
            object_type="deals",
            object_id=deal["id"],
            description=f"Procurement note on deal {deal['id']}",
            step="mark_approved",
            body=summary,
        )
    )
    return {**end("purchase_order_created", summary), "artifacts": artifacts}


def close_request(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """Rejected or expired: the record says so, no order, no commitment."""
    ctx = runtime.context
    decision = state["decision"]
    expired = decision["decision"] == "expire"
    outcome = "expired" if expired else "rejected"
    artifacts = [_update_request(ctx, state, status="Expired" if expired else "Rejected")]
    deal = state["deal"]
    what = f"Procurement request {state['request_id']} ({money(Decimal(deal['amount']))}"
    what += f" {deal['currency']})"
    if expired:
        summary = f"{what} expired without a decision (approval {decision['approval_id']})."
    else:
        reason = f" Reason: {decision['note']}" if decision.get("note") else ""
        summary = (
            f"{what} was rejected by {decision['decided_by'] or 'an admin'}"
            f" (approval {decision['approval_id']}).{reason}"
        )
    if ctx.policy.policy.approvals.hubspot_note_on_rejection:
        artifacts.append(
            note_once(
                ctx,
                object_type="deals",
                object_id=deal["id"],
                description=f"Procurement note on deal {deal['id']}",
                step="close_request",
                body=summary,
            )
        )
    return {**end(outcome, summary), "artifacts": artifacts}


def _upsert_one(
    ctx: WorkflowContext, table: str, fields: dict[str, Any], *, key_field: str
) -> WriteResult:
    result = ctx.airtable.upsert_records(table=table, records=[fields], key_field=key_field)
    record_id = result.records[0].id
    return WriteResult(external_id=record_id, result={"record_id": record_id})


def _update_request(
    ctx: WorkflowContext,
    state: ProcurementState,
    *,
    status: str,
    extra: dict[str, Any] | None = None,
) -> Artifact:
    """The procurement record's status after the decision (an upsert on its request id)."""
    table = ctx.options.tables.procurement
    request_id = state["request_id"]
    decision = state["decision"]
    fields: dict[str, Any] = {
        "Request ID": request_id,
        "Status": status,
        "Approval ID": decision["approval_id"],
        "Decided by": decision["decided_by"],
        "Decision note": decision.get("note"),
        **(extra or {}),
    }
    entry = ctx.write_once(
        step=f"request_{status.lower()}",
        target=f"airtable:{table}:{request_id}",
        write=lambda key: _upsert_one(ctx, table, fields, key_field="Request ID"),
    )
    return artifact(
        asset="ops/procurement_requests",
        system="airtable",
        external_id=entry.external_id,
        description=f"{request_id}: {status}",
        details={"request_id": request_id, "status": status},
    )
