"""Procurement rules as pure functions: reading an amount, the threshold reason, what an
approver's edit may change, the proposal, and the budget problems a person must see."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from orchestrator_core.policy.model import Procurement
from orchestrator_core.records.runs import WorkflowRun
from orchestrator_defs.workflows.procurement_approval.state import (
    BudgetFigures,
    DealFacts,
    PurchaseOrder,
)
from orchestrator_defs.workflows.state import Decision, Issue, issue

CENT = Decimal("0.01")


def parse_amount(raw: str | None) -> Decimal | None:
    """A HubSpot amount ("125000", "125000.5") as money; None when missing or unusable."""
    text = (raw or "").strip().replace(",", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return amount.quantize(CENT)


def money(amount: Decimal) -> str:
    """125000 → "125,000"; 45000.5 → "45,000.50"."""
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def approval_reason(amount: Decimal, currency: str, procurement: Procurement) -> str:
    threshold = f"{money(procurement.threshold)} {procurement.currency}"
    if currency != procurement.currency:
        return (
            f"Deal amount {money(amount)} {currency} is in another currency than the {threshold}"
            " threshold, and the policy has no exchange rates, so an admin must approve it."
        )
    return f"Deal amount {money(amount)} {currency} is at or above the {threshold} threshold."


def approved_amount(asked: Decimal, decision: Decision) -> tuple[Decimal, list[Issue]]:
    """The amount to order: the approver's edit when it lowers (or keeps) the amount."""
    edits = decision.get("edits") or {}
    if "amount" not in edits:
        return asked, []
    edited = parse_amount(str(edits["amount"]))
    if edited is not None and Decimal(0) < edited <= asked:
        return edited, []
    return asked, [
        issue(
            kind="invalid_approval_edit",
            severity="warning",
            message=(
                f"Approval {decision['approval_id']} set the amount to {edits['amount']!r};"
                f" only a positive amount up to the requested {money(asked)} applies, so the"
                " requested amount was ordered."
            ),
            suggested_fix="Correct the purchase order by hand if a different amount was meant.",
            step="create_purchase_order",
            key="amount",
            details={"edited": str(edits["amount"]), "requested": str(asked)},
        )
    ]


def budget_issues(
    order: PurchaseOrder, budget: BudgetFigures, *, committed: Decimal, annual: Decimal
) -> list[Issue]:
    """Over budget (an error) and a currency the budget is not kept in (a warning)."""
    issues: list[Issue] = []
    centre = f"{budget['cost_centre']} ({budget['name']})"
    if committed > annual:
        issues.append(
            issue(
                kind="over_budget",
                severity="error",
                message=(
                    f"{order['number']} takes {centre} to {money(committed)} committed in"
                    f" {order['fiscal_year']}, over its {money(annual)} {budget['currency']}"
                    f" annual budget by {money(committed - annual)}."
                ),
                suggested_fix=(
                    "Ask finance to raise the budget or move the order to another cost centre"
                    " (set the deal's cost centre in HubSpot)."
                ),
                step="commit_budget",
                key=budget["cost_centre"],
                details={
                    "purchase_order": order["number"],
                    "committed": str(committed),
                    "annual_budget": str(annual),
                    "over_by": str(committed - annual),
                    "currency": budget["currency"],
                    "fiscal_year": order["fiscal_year"],
                },
            )
        )
    if order["currency"] != budget["currency"]:
        issues.append(
            issue(
                kind="budget_currency_mismatch",
                severity="warning",
                message=(
                    f"{order['number']} is in {order['currency']} but {centre} keeps its budget"
                    f" in {budget['currency']}; it was charged at face value, unconverted."
                ),
                suggested_fix="Correct the commitment with the exchange rate of the order date.",
                step="commit_budget",
                key=order["number"],
                details={
                    "order_currency": order["currency"],
                    "budget_currency": budget["currency"],
                },
            )
        )
    return issues


def deal_link(run: WorkflowRun, deal_id: str) -> str | None:
    if run.portal_id is None:
        return None
    return f"https://app.hubspot.com/contacts/{run.portal_id}/record/0-3/{deal_id}"


def build_proposal(request_id: str, deal: DealFacts, budget: BudgetFigures) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "deal": {"id": deal["id"], "name": deal["name"]},
        "company": {"id": deal["company_id"], "name": deal["company_name"]},
        "vendor": deal["company_name"],
        "amount": deal["amount"],
        "currency": deal["currency"],
        "requester": deal["owner_email"],
        "cost_centre": {"code": budget["cost_centre"], "name": budget["name"]},
        "budget": {
            "currency": budget["currency"],
            "fiscal_year": budget["fiscal_year"],
            "annual_budget": budget["annual_budget"],
            "committed": budget["committed"],
            "remaining": budget["remaining"],
            "remaining_after": budget["remaining_after"],
            "currency_mismatch": budget["currency_mismatch"],
        },
        "notes": (
            [
                f"The deal is in {deal['currency']} and the budget in {budget['currency']}:"
                " remaining-after cannot be computed without exchange rates."
            ]
            if budget["currency_mismatch"]
            else []
        ),
    }
