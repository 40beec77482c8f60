"""The procurement approval's graph state and the HubSpot properties it reads. Amounts are
decimal strings (exact, and JSON-able for the checkpoint and the approval row); budget figures
are in the cost centre's currency."""

from __future__ import annotations

from typing import Any, TypedDict

from orchestrator_defs.workflows.state import Decision, WorkflowState

WORKFLOW = "procurement_approval"
# Read besides the policy's cost centre property.
DEAL_PROPERTIES = ("dealname", "amount", "deal_currency_code", "hubspot_owner_id")


class DealFacts(TypedDict):
    """The deal as read when the run started."""

    id: str
    name: str | None
    amount: str  # a decimal string, validated
    currency: str
    cost_centre_value: str | None
    owner_email: str | None
    company_id: str | None
    company_name: str | None


class BudgetFigures(TypedDict):
    """The cost centre's year before this deal; amounts are decimal strings in `currency`."""

    cost_centre: str
    name: str
    currency: str
    fiscal_year: int
    annual_budget: str
    committed: str
    remaining: str
    # None when the deal is in another currency (no exchange rates to subtract it).
    remaining_after: str | None
    currency_mismatch: bool


class PurchaseOrder(TypedDict):
    number: str
    record_id: str | None
    amount: str
    currency: str
    fiscal_year: int


class ProcurementState(WorkflowState, total=False):
    deal: DealFacts
    budget: BudgetFigures
    request_id: str
    request_record_id: str | None
    proposal: dict[str, Any]
    proposed_at: str
    decision: Decision
    purchase_order: PurchaseOrder
