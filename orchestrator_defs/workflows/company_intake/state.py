"""The company intake's state, the HubSpot properties it reads, and small state accessors."""

from __future__ import annotations

from typing import Any, TypedDict

from orchestrator_core.policy.vocabulary import WorkflowName
from orchestrator_defs.workflows.state import WorkflowState
from resources.enrichment.schemas import CompanyEnrichment

# Read besides the policy's type and lifecycle properties: what the enricher normalises and
# what the Accounts record shows.
COMPANY_PROPERTIES = (
    "name",
    "domain",
    "website",
    "industry",
    "description",
    "numberofemployees",
    "annualrevenue",
    "country",
    "city",
    "hubspot_owner_id",
)
COMPANY_ASSOCIATIONS = ("contacts", "deals")
# The child workflow `request_kickoff` asks for.
KICKOFF_WORKFLOW: WorkflowName = "deal_kickoff"


class SopPage(TypedDict):
    """The Notion SOP page of a company for one template."""

    page_id: str
    url: str | None
    title: str
    template_id: str
    template_title: str


class CompanyIntakeState(WorkflowState, total=False):
    # The id HubSpot answered with: a merged-away id answers with the surviving company.
    company_id: str
    company: dict[str, str | None]
    associations: dict[str, list[str]]
    # The company no longer exists (deleted, or merged away without a survivor).
    missing: bool
    # `CompanyEnrichment` as JSON; `enrichment_fallback` says why rules answered instead.
    enrichment: dict[str, Any]
    enrichment_fallback: str
    # A data-quality problem stops the mirror (see `quality.py`).
    blocked: bool
    account_record_id: str
    sop: SopPage
    kickoff_run_id: int
    kickoff_note: str


def enrichment_of(state: CompanyIntakeState) -> CompanyEnrichment:
    """The enricher's answer, as the `enrich` node stored it."""
    return CompanyEnrichment.model_validate(state["enrichment"])


def label_of(state: CompanyIntakeState) -> str:
    """How messages and page titles name the company: normalised name, raw name, or its id."""
    name = enrichment_of(state).name if "enrichment" in state else None
    raw = (state.get("company", {}).get("name") or "").strip()
    return name or raw or f"company {state['company_id']}"
