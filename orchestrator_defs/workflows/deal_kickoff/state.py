"""The deal kickoff's graph state: what each node reads and writes, all JSON-able (times as
ISO 8601 strings), so the checkpoint and the approval row hold the same values."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from orchestrator_defs.workflows.deal_kickoff.team import CustomerAttendee, Organiser, TeamMember
from orchestrator_defs.workflows.state import Decision, WorkflowState


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


class InternalAttendee(TeamMember):
    """A deal team member invited, and how they belong to the deal."""

    role: Literal["owner", "collaborator", "company_owner"]
    runs_kickoff: bool


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
