"""The deal kickoff's graph state: what each node reads and writes, all JSON-able (times as
ISO 8601 strings), so the checkpoint and the approval row hold the same values; and the HubSpot
properties it reads."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from orchestrator_defs.workflows.deal_kickoff.team import (
    CustomerAttendee,
    InternalAttendee,
    Organiser,
)
from orchestrator_defs.workflows.state import Decision, WorkflowState

WORKFLOW = "deal_kickoff"
DEAL_PROPERTIES = ("dealname", "dealstage", "hubspot_owner_id", "hs_all_collaborator_owner_ids")
COMPANY_PROPERTIES = ("name", "hubspot_owner_id")
CONTACT_PROPERTIES = ("firstname", "lastname", "email", "jobtitle")
# The lifecycle actions of a company intake request that ask for a kickoff.
KICKOFF_ACTIONS = frozenset({"propose_kickoff", "request_kickoff_approval"})


class Subject(TypedDict):
    """The deal (or company) the kickoff is about, as read when the run started."""

    object_type: Literal["deal", "company"]
    object_id: str
    deal_id: str | None
    deal_name: str | None
    stage: str | None
    company_id: str | None
    company_name: str | None
    owner_id: str | None
    collaborator_ids: list[str]
    contact_ids: list[str]
    # The lifecycle action of a company intake request; None for deal events.
    action: str | None
    approval_required: bool


class ProposedSlot(TypedDict):
    """One slot offered to the approver; `index` is what `edits.slot_index` names."""

    index: int
    start: str  # ISO 8601 in the policy's time zone
    end: str
    label: str


class KickoffEvent(TypedDict):
    """The calendar event as recorded in the ledger."""

    id: str
    calendar_id: str
    html_link: str | None
    start: str
    end: str
    attendees: list[str]
    slot_index: int


class KickoffState(WorkflowState, total=False):
    subject: Subject
    organiser: Organiser
    internal_attendees: list[InternalAttendee]
    customer_attendees: list[CustomerAttendee]
    slots: list[ProposedSlot]
    proposal: dict[str, Any]
    proposed_at: str
    decision: Decision
    event: KickoffEvent
