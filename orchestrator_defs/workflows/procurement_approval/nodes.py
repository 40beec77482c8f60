"""The procurement approval's reading and deciding nodes: check the amount, check for a
pending approval, assess the budget, ask for the approval.

The writing nodes, from the pending procurement record on, are in `writes.py`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from orchestrator_core.policy import policy_snapshot
from orchestrator_core.records.budget import committed_spend
from orchestrator_core.records.runs import WorkflowRun, find_runs
from orchestrator_defs.workflows.common import (
    Update,
    clean_text,
    end,
    first_company,
    raised_by,
    subject_id,
)
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.procurement_approval.rules import (
    approval_reason,
    money,
    parse_amount,
)
from orchestrator_defs.workflows.procurement_approval.state import (
    DEAL_PROPERTIES,
    WORKFLOW,
    BudgetFigures,
    DealFacts,
    ProcurementState,
)
from orchestrator_defs.workflows.state import Decision, approval_request, issue
from resources.errors import NotFoundError
from resources.hubspot import CrmObject


def check_amount(state: ProcurementState, runtime: Runtime[WorkflowContext]) -> Update:
    """Read the deal; stop when its amount is unusable or below the threshold."""
    ctx = runtime.context
    procurement = ctx.policy.policy.procurement
    deal_id = subject_id(ctx.run, "deal")
    deal = ctx.hubspot.get_object(
        object_type="deals",
        object_id=deal_id,
        properties=(*DEAL_PROPERTIES, procurement.cost_centre_mapping.deal_property),
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
        pending = find_runs(
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
    company = first_company(ctx, deal)
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
