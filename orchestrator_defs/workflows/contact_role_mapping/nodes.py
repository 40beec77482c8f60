"""The contact role mapping's reading and deciding nodes: fetch, infer the role, finish.

The writing nodes are in `writes.py`.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from orchestrator_core.logging import get_logger
from orchestrator_defs.workflows.common import Update, missing_object_issue, subject_id
from orchestrator_defs.workflows.contact_role_mapping.state import (
    CONTACT_ASSOCIATIONS,
    CONTACT_PROPERTIES,
    RoleMappingState,
    name_of,
)
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.state import Issue, issue
from resources.enrichment.enricher import RuleEnricher
from resources.enrichment.errors import EnrichmentError
from resources.enrichment.schemas import TitleInference
from resources.errors import NotFoundError

log = get_logger(__name__)


def fetch_contact(state: RoleMappingState, runtime: Runtime[WorkflowContext]) -> Update:
    ctx = runtime.context
    contact_id = subject_id(ctx.run, "contact")
    try:
        contact = ctx.hubspot.get_object(
            object_type="contacts",
            object_id=contact_id,
            properties=CONTACT_PROPERTIES,
            associations=CONTACT_ASSOCIATIONS,
        )
    except NotFoundError:
        # Deleted since the event: nothing to map, and nothing wrong with the run.
        return {
            "contact_id": contact_id,
            "missing": True,
            "issues": [missing_object_issue("contact", contact_id, step="fetch_contact")],
        }
    return {
        # A merged-away id answers with the surviving contact: act on that one.
        "contact_id": contact.id,
        "contact": dict(contact.properties),
        "company_ids": list(contact.associations.get("companies", ())),
    }


def infer_role(state: RoleMappingState, runtime: Runtime[WorkflowContext]) -> Update:
    ctx = runtime.context
    mapping = ctx.policy.policy.role_mapping
    title = (state["contact"].get("jobtitle") or "").strip()
    if not title:
        # Nothing to infer from; a title set later starts the mapping (contact_title_changed).
        return {"held": "no_title"}
    update: Update = {}
    try:
        inference = ctx.enricher.infer_title(title, review_threshold=mapping.min_confidence)
    except EnrichmentError as exc:
        # The rules answer (and say so); a weak answer still goes to review below.
        log.warning("title inference failed, rules answer", enricher=ctx.enricher.name)
        inference = RuleEnricher().infer_title(title, review_threshold=mapping.min_confidence)
        update["inference_fallback"] = f"{ctx.enricher.name}: {type(exc).__name__}"
    decision = mapping.role_for(inference.function, inference.seniority)
    update |= {"inference": inference.model_dump(mode="json"), "role": decision.role}
    chosen = ctx.run.overrides.get("role")
    if chosen:
        # An operator decided the role (an exception's accepted suggestion or applied value):
        # it stands, and there is nothing left to review.
        return update | {"role": str(chosen), "role_source": "operator"}
    if inference.needs_review:
        update |= {
            "held": "needs_review",
            "issues": [_review_issue(state, inference, decision.role)],
        }
    return update


def finish(state: RoleMappingState, runtime: Runtime[WorkflowContext]) -> Update:
    contact_id = state["contact_id"]
    if state.get("missing"):
        return {
            "outcome": "object_missing",
            "outcome_message": f"Contact {contact_id} no longer exists in HubSpot.",
        }
    subject = f"{name_of(state)} (contact {contact_id})"
    held = state.get("held")
    if held == "no_title":
        return {"outcome": "no_title", "outcome_message": f"{subject} has no job title"}
    role = state["role"]
    if held == "needs_review":
        title = state["contact"].get("jobtitle")
        return {
            "outcome": "needs_review",
            "outcome_message": f"title {title!r} of {subject} needs review (suggested: {role})",
        }
    copies = state.get("drive_copies", [])
    checklist = state.get("checklist_record_ids", [])
    return {
        "outcome": "role_assigned",
        "outcome_message": f"{subject} is {role}: HubSpot and Airtable updated,"
        f" {_count(len(checklist), 'checklist item')}, {_count(len(copies), 'Drive copy')}",
    }


def _review_issue(state: RoleMappingState, inference: TitleInference, role: str) -> Issue:
    contact_id = state["contact_id"]
    title = state["contact"].get("jobtitle")
    return issue(
        kind="role_review",
        severity="warning",
        message=f"The job title {title!r} of {name_of(state)} (contact {contact_id}) maps to"
        f" {role} with low confidence: {'; '.join(inference.review_reasons)}.",
        suggested_fix=f"Correct the job title of contact {contact_id} in HubSpot if it is wrong"
        " or vague (the change maps the contact again); if it is right, set internal_role on"
        f" the contact by hand (suggested: {role}).",
        step="infer_role",
        key="jobtitle",
        details={
            "contact_id": contact_id,
            "title": title,
            "normalized_title": inference.normalized_title,
            "suggested_role": role,
            "function": inference.function.value,
            "seniority": inference.seniority.value,
            "function_confidence": inference.function_confidence,
            "seniority_confidence": inference.seniority_confidence,
            "review_reasons": inference.review_reasons,
            "enricher": inference.enricher,
        },
    )


def _count(number: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number} {noun if number == 1 else plural}"
