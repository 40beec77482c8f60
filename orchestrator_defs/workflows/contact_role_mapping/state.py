"""The contact role mapping's state and the HubSpot properties it reads and writes."""

from __future__ import annotations

from typing import Any, TypedDict

from orchestrator_defs.workflows.state import WorkflowState
from resources.enrichment.schemas import TitleInference

# The contact properties the mapping writes: created in HubSpot as custom contact properties
# (single-line text) before the workflow is enabled.
ROLE_PROPERTY = "internal_role"
FUNCTION_PROPERTY = "job_function"
SENIORITY_PROPERTY = "job_seniority"
ROLE_PROPERTIES = (ROLE_PROPERTY, FUNCTION_PROPERTY, SENIORITY_PROPERTY)

CONTACT_PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "jobtitle",
    "company",
    "hubspot_owner_id",
    *ROLE_PROPERTIES,
)
CONTACT_ASSOCIATIONS = ("companies",)


class DriveCopy(TypedDict):
    """A copy of one of the role's Drive templates, made for the contact."""

    template_id: str
    file_id: str
    name: str
    url: str | None
    shared_with: str | None


class RoleMappingState(WorkflowState, total=False):
    # The id HubSpot answered with: a merged-away id answers with the surviving contact.
    contact_id: str
    contact: dict[str, str | None]
    company_ids: list[str]
    # The contact no longer exists in HubSpot.
    missing: bool
    # `TitleInference` as JSON; `inference_fallback` says why the rules answered instead.
    inference: dict[str, Any]
    inference_fallback: str
    role: str
    # "operator" when a person chose the role (an exception's fix), instead of the inference
    role_source: str
    # Why nothing is written: "needs_review" (low confidence) or "no_title".
    held: str
    contact_record_id: str
    checklist_record_ids: list[str]
    drive_copies: list[DriveCopy]


def inference_of(state: RoleMappingState) -> TitleInference:
    """The title inference, as the `infer_role` node stored it."""
    return TitleInference.model_validate(state["inference"])


def name_of(state: RoleMappingState) -> str:
    """How messages, records and file names name the contact: full name, email, or its id."""
    contact = state.get("contact", {})
    full = " ".join(
        part.strip() for part in (contact.get("firstname"), contact.get("lastname")) if part
    ).strip()
    return full or (contact.get("email") or "").strip() or f"contact {state['contact_id']}"
