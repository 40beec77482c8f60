"""The company intake's reading and deciding nodes: fetch, enrich, validate, finish.

The writing nodes are in `writes.py`.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from orchestrator_core.logging import get_logger
from orchestrator_defs.workflows.common import Update, missing_object_issue, subject_id
from orchestrator_defs.workflows.company_intake.quality import assess, quality_issue
from orchestrator_defs.workflows.company_intake.state import (
    COMPANY_ASSOCIATIONS,
    COMPANY_PROPERTIES,
    CompanyIntakeState,
    enrichment_of,
    label_of,
)
from orchestrator_defs.workflows.company_intake.writes import apply_operator_fix
from orchestrator_defs.workflows.context import WorkflowContext
from resources.enrichment.enricher import RuleEnricher
from resources.enrichment.errors import EnrichmentError
from resources.errors import NotFoundError

log = get_logger(__name__)


def fetch_company(state: CompanyIntakeState, runtime: Runtime[WorkflowContext]) -> Update:
    ctx = runtime.context
    intake = ctx.policy.policy.company_intake
    company_id = subject_id(ctx.run, "company")
    try:
        company = ctx.hubspot.get_object(
            object_type="companies",
            object_id=company_id,
            properties=[
                *COMPANY_PROPERTIES,
                intake.company_type_property,
                intake.lifecycle_property,
            ],
            associations=COMPANY_ASSOCIATIONS,
        )
    except NotFoundError:
        # Deleted since the event: nothing to mirror, and nothing wrong with the run.
        return {
            "company_id": company_id,
            "missing": True,
            "issues": [missing_object_issue("company", company_id, step="fetch_company")],
        }
    fix = apply_operator_fix(ctx, company.id)
    return {
        # A merged-away id answers with the surviving company: act on that one.
        "company_id": company.id,
        "company": {**company.properties, **fix},
        "associations": {name: list(ids) for name, ids in company.associations.items()},
    }


def enrich(state: CompanyIntakeState, runtime: Runtime[WorkflowContext]) -> Update:
    ctx = runtime.context
    threshold = ctx.policy.policy.role_mapping.min_confidence
    type_property = ctx.policy.policy.company_intake.company_type_property
    properties = {**state["company"], "type": state["company"].get(type_property)}
    update: Update = {}
    try:
        enrichment = ctx.enricher.enrich_company(properties, review_threshold=threshold)
    except EnrichmentError as exc:
        # Normalisation is best effort: the rules answer (and say so) rather than stop intake.
        log.warning("enrichment failed, rules answer", enricher=ctx.enricher.name, error=str(exc))
        enrichment = RuleEnricher().enrich_company(properties, review_threshold=threshold)
        update["enrichment_fallback"] = f"{ctx.enricher.name}: {type(exc).__name__}"
    return {**update, "enrichment": enrichment.model_dump(mode="json")}


def validate(state: CompanyIntakeState, runtime: Runtime[WorkflowContext]) -> Update:
    findings = assess(enrichment_of(state))
    issues = [
        quality_issue(
            finding,
            company_id=state["company_id"],
            label=label_of(state),
            properties=state["company"],
            step="validate",
        )
        for finding in findings
    ]
    return {"blocked": any(f.blocking for f in findings), "issues": issues}


def finish(state: CompanyIntakeState, runtime: Runtime[WorkflowContext]) -> Update:
    company_id = state["company_id"]
    if state.get("missing"):
        return {
            "outcome": "object_missing",
            "outcome_message": f"Company {company_id} no longer exists in HubSpot.",
        }
    subject = f"{label_of(state)} (company {company_id})"
    note = f"; {state['kickoff_note']}" if state.get("kickoff_note") else ""
    if state.get("blocked"):
        fields = sorted({i["key"] for i in state["issues"] if i["severity"] == "error"})
        return {
            "outcome": "data_quality_exception",
            "outcome_message": f"{subject} not mirrored: fix {', '.join(fields)} in HubSpot{note}",
        }
    return {
        "outcome": "mirrored",
        "outcome_message": f"{subject} mirrored to Airtable ({state.get('account_record_id')})"
        f" with SOP {state['sop']['title']!r}{note}",
    }
