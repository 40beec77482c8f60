"""Procurement approval: a deal at or above the policy threshold (or in another currency than
the policy's, which has no exchange rates) needs an admin's approval; once approved, it becomes
an internal purchase order charged to its cost centre's annual budget.

    check_amount → check_pending → assess_budget → open_request → ask_approval
                                                                      │
        approve: create_purchase_order → commit_budget → mark_approved│
        reject / expire: close_request  ◀─────────────────────────────┘

The deal is read fresh from HubSpot, never taken from the event: an amount and a currency change
arriving together start one run, and the current values are what gets approved. A node that
sets `outcome` before the approval ends the run (bad amount, below the threshold, another
approval already pending for the deal). Vendor writes go through the side-effect ledger; the
budget commitment is idempotent per purchase order in Postgres.

Amount edits: the approver may lower the amount with `edits: {"amount": "45000"}`. A higher,
non-positive or unreadable amount is not applied (an approval cannot raise what was asked
for): the original amount is used and an `invalid_approval_edit` warning says so.

Budget figures are in the cost centre's currency. A deal in another currency is still charged
at its face amount (there are no exchange rates to convert it) and flagged
`budget_currency_mismatch`, so a person can correct the commitment.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from orchestrator_core.ledger import WriteResult
from orchestrator_core.policy import policy_snapshot
from orchestrator_core.records import runs
from orchestrator_core.records.budget import commit_spend, committed_spend
from orchestrator_core.records.runs import WorkflowRun
from orchestrator_defs.workflows.common import (
    clean_text,
    end,
    note_once,
    raised_by,
    subject_id,
    unless_ended,
)
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.procurement_approval.rules import (
    approval_reason,
    approved_amount,
    budget_issues,
    build_proposal,
    deal_link,
    money,
    parse_amount,
)
from orchestrator_defs.workflows.procurement_approval.state import (
    BudgetFigures,
    DealFacts,
    ProcurementState,
    PurchaseOrder,
)
from orchestrator_defs.workflows.state import Artifact, Decision, approval_request, artifact, issue
from resources.errors import NotFoundError
from resources.hubspot import CrmObject

WORKFLOW = "procurement_approval"

Update = dict[str, Any]


# -- before the approval ---------------------------------------------------------------------


def check_amount(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """Read the deal; stop when its amount is unusable or below the threshold."""
    ctx = runtime.context
    procurement = ctx.policy.policy.procurement
    deal_id = subject_id(ctx.run, "deal")
    deal = ctx.hubspot.get_object(
        object_type="deals",
        object_id=deal_id,
        properties=(
            "dealname",
            "amount",
            "deal_currency_code",
            "hubspot_owner_id",
            procurement.cost_centre_mapping.deal_property,
        ),
        associations=("companies",),
    )
    amount = parse_amount(deal.properties.get("amount"))
    currency = (deal.properties.get("deal_currency_code") or "").strip().upper()
    if amount is None or not currency:
        return _invalid_amount(deal, amount, currency)
    if not procurement.needs_approval(amount, currency):
        return end(
            "below_threshold",
            f"deal {deal.id}: {money(amount)} {currency} is below the"
            f" {money(procurement.threshold)} {procurement.currency} threshold",
        )
    return {"deal": _deal_facts(ctx, deal, amount, currency)}


def check_pending(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """One approval per deal at a time: a pending one ends this run."""
    ctx = runtime.context
    deal = state["deal"]
    with ctx.db.connection() as conn:
        pending = runs.find_runs(
            conn,
            workflow=WORKFLOW,
            object_type="deal",
            object_id=int(deal["id"]),
            statuses=("awaiting_approval",),
            exclude_id=ctx.run.id,
        )
    if not pending:
        return {}
    other = pending[0]
    update = end(
        "already_pending",
        f"procurement run {other.id} for deal {deal['id']} is already waiting for approval",
    )
    asked = _pending_amount(other)
    now = (deal["amount"], deal["currency"])
    if asked is not None and asked != now:
        update["issues"] = [
            issue(
                kind="amount_changed_while_pending",
                severity="warning",
                message=(
                    f"Deal {deal['id']} now reads {money(Decimal(now[0]))} {now[1]}, but the"
                    f" pending approval of run {other.id} asks about"
                    f" {money(Decimal(asked[0]))} {asked[1]}."
                ),
                suggested_fix=(
                    "Reject the pending approval with a note, then re-run this workflow run so"
                    " the current amount is approved."
                ),
                step="check_pending",
                key=deal["id"],
                details={"pending_run_id": other.id},
            )
        ]
    return update


def assess_budget(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """Where the deal's cost centre stands this year, before the deal."""
    ctx = runtime.context
    procurement = ctx.policy.policy.procurement
    deal = state["deal"]
    code = procurement.cost_centre_for(deal["cost_centre_value"])
    centre = procurement.cost_centres[code]
    fiscal_year = ctx.now().year
    with ctx.db.connection() as conn:
        committed = committed_spend(conn, cost_centre=code, fiscal_year=fiscal_year)
    remaining = centre.annual_budget - committed
    mismatch = deal["currency"] != centre.currency
    return {
        "budget": BudgetFigures(
            cost_centre=code,
            name=centre.name,
            currency=centre.currency,
            fiscal_year=fiscal_year,
            annual_budget=str(centre.annual_budget),
            committed=str(committed),
            remaining=str(remaining),
            remaining_after=None if mismatch else str(remaining - Decimal(deal["amount"])),
            currency_mismatch=mismatch,
        )
    }


def open_request(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """The procurement record in Airtable, pending approval, and the proposal for the approver."""
    ctx = runtime.context
    deal = state["deal"]
    budget = state["budget"]
    request_id = f"PR-{deal['id']}-{ctx.run.id}"
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


def ask_approval(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """Park until an admin decides. Nothing but the interrupt happens here."""
    ctx = runtime.context
    procurement = ctx.policy.policy.procurement
    proposed_at = datetime.fromisoformat(state["proposed_at"])
    decision: Decision = interrupt(
        approval_request(
            kind="procurement",
            proposal=state["proposal"],
            reason=approval_reason(
                Decimal(state["deal"]["amount"]), state["deal"]["currency"], procurement
            ),
            policy_snapshot=policy_snapshot(ctx.policy, sections=["procurement", "approvals"]),
            approver_role=procurement.approver_role,
            due_at=proposed_at + timedelta(hours=procurement.due_hours),
            **raised_by(ctx),
        )
    )
    return {"decision": decision}


def after_decision(state: ProcurementState) -> Literal["create_purchase_order", "close_request"]:
    return (
        "create_purchase_order" if state["decision"]["decision"] == "approve" else "close_request"
    )


# -- after the approval ----------------------------------------------------------------------


def create_purchase_order(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """The internal purchase order in Airtable, for the approved (possibly lowered) amount."""
    ctx = runtime.context
    deal = state["deal"]
    budget = state["budget"]
    amount, issues = approved_amount(Decimal(deal["amount"]), state["decision"])
    number = f"PO-{deal['id']}-{ctx.run.id}"
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


# -- the graph -------------------------------------------------------------------------------


def build_graph() -> StateGraph[Any, Any, Any, Any]:
    graph: StateGraph[Any, Any, Any, Any] = StateGraph(
        ProcurementState, context_schema=WorkflowContext
    )
    before = [check_amount, check_pending, assess_budget, open_request, ask_approval]
    approved = [create_purchase_order, commit_budget, mark_approved]
    for node in [*before, *approved, close_request]:
        graph.add_node(node.__name__, node)
    graph.add_edge(START, "check_amount")
    for node, following in itertools.pairwise(before):
        graph.add_conditional_edges(
            node.__name__, unless_ended(following.__name__), [following.__name__, END]
        )
    graph.add_conditional_edges(
        "ask_approval", after_decision, ["create_purchase_order", "close_request"]
    )
    for node, following in itertools.pairwise(approved):
        graph.add_edge(node.__name__, following.__name__)
    graph.add_edge("mark_approved", END)
    graph.add_edge("close_request", END)
    return graph


# -- helpers ---------------------------------------------------------------------------------


def _invalid_amount(deal: CrmObject, amount: Decimal | None, currency: str) -> Update:
    field, raw = (
        ("amount", deal.properties.get("amount"))
        if amount is None
        else ("deal_currency_code", deal.properties.get("deal_currency_code"))
    )
    return {
        **end("invalid_amount", f"deal {deal.id} has no usable {field} ({raw!r})"),
        "issues": [
            issue(
                kind="data_quality",
                severity="warning",
                message=(
                    f"Deal {deal.id} ({deal.properties.get('dealname')}) has no usable {field}"
                    f" ({raw!r}), so its procurement approval cannot be assessed."
                ),
                suggested_fix=(
                    f"Set the deal's {field} in HubSpot; the change starts the approval again."
                ),
                step="check_amount",
                key=field,
                details={"deal_id": deal.id, "field": field, "value": raw},
            )
        ],
    }


def _deal_facts(ctx: WorkflowContext, deal: CrmObject, amount: Decimal, currency: str) -> DealFacts:
    procurement = ctx.policy.policy.procurement
    company_ids = deal.associations.get("companies", ())
    company = (
        ctx.hubspot.get_object(
            object_type="companies", object_id=company_ids[0], properties=["name"]
        )
        if company_ids
        else None
    )
    return DealFacts(
        id=deal.id,
        name=deal.properties.get("dealname"),
        amount=str(amount),
        currency=currency,
        cost_centre_value=deal.properties.get(procurement.cost_centre_mapping.deal_property),
        owner_email=_owner_email(ctx, deal.properties.get("hubspot_owner_id")),
        company_id=company.id if company else None,
        company_name=clean_text(company.properties.get("name")) if company else None,
    )


def _owner_email(ctx: WorkflowContext, owner_id: str | None) -> str | None:
    if not owner_id or not owner_id.isdigit():
        return None
    try:
        return ctx.hubspot.get_owner(owner_id).email
    except NotFoundError:  # a deactivated user: the request still goes ahead
        return None


def _pending_amount(run: WorkflowRun) -> tuple[str, str] | None:
    summary = run.state_summary
    deal = summary.get("deal") if isinstance(summary, dict) else None
    if isinstance(deal, dict) and deal.get("amount") and deal.get("currency"):
        return str(deal["amount"]), str(deal["currency"])
    return None


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
