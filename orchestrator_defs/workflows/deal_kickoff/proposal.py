"""What the approver sees and what the decision turns into: pure functions, no I/O.

The proposal is built once, before the approval, and kept in the graph state: the approval row,
the calendar event and the Airtable record all come from that one copy, so a re-executed node
never proposes something else than what was approved.
"""

from __future__ import annotations

import hashlib
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from orchestrator_core.policy.model import KickoffMeeting
from orchestrator_defs.workflows.deal_kickoff.slots import Interval
from orchestrator_defs.workflows.deal_kickoff.state import ProposedSlot, Subject
from orchestrator_defs.workflows.deal_kickoff.team import (
    CustomerAttendee,
    InternalAttendee,
    Organiser,
)
from orchestrator_defs.workflows.state import Decision, Issue, issue


def proposed_slot(index: int, slot: Interval, zone: ZoneInfo) -> ProposedSlot:
    start, end = slot.start.astimezone(zone), slot.end.astimezone(zone)
    return ProposedSlot(
        index=index,
        start=start.isoformat(),
        end=end.isoformat(),
        label=f"{start:%a %d %b %Y, %H:%M}-{end:%H:%M} ({zone.key})",
    )


def meeting_title(template: str, subject: Subject) -> str:
    company = subject["company_name"] or subject["deal_name"] or f"company {subject['object_id']}"
    return template.format(company_name=company, deal_name=subject["deal_name"] or company)


def build_proposal(
    *,
    subject: Subject,
    organiser: Organiser,
    internal: list[InternalAttendee],
    customers: list[CustomerAttendee],
    slots: list[ProposedSlot],
    unchecked_calendars: list[str],
    meeting: KickoffMeeting,
    calendar_id: str,
) -> dict[str, Any]:
    """The approval's proposal. `required: false` lets the runner approve it by policy."""
    notes: list[str] = []
    if not customers:
        notes.append(
            "No associated contact has a role in "
            f"{', '.join(meeting.customer_attendee_roles)}: the invitation goes to the team only."
        )
    inferred = [c["name"] for c in customers if c["role_source"] != "airtable"]
    if inferred:
        notes.append(f"Roles inferred from job titles (not yet mapped): {', '.join(inferred)}.")
    return {
        "required": subject["approval_required"],
        "title": meeting_title(meeting.title_template, subject),
        "deal": (
            {"id": subject["deal_id"], "name": subject["deal_name"], "stage": subject["stage"]}
            if subject["deal_id"]
            else None
        ),
        "company": (
            {"id": subject["company_id"], "name": subject["company_name"]}
            if subject["company_id"]
            else None
        ),
        "requested_action": subject["action"],
        "organiser": {
            **organiser["member"],
            "reason": organiser["reason"],
            "explanation": organiser["explanation"],
        },
        "calendar_id": calendar_id,
        "duration_minutes": meeting.duration_minutes,
        "time_zone": meeting.working_hours.time_zone,
        "slots": slots,
        "attendees": {"internal": internal, "customer": customers},
        "unchecked_calendars": unchecked_calendars,
        "notes": notes,
    }


def proposal_hash(proposal: dict[str, Any]) -> str:
    """sha256 of the proposal's canonical JSON: names the proposal in lineage."""
    return hashlib.sha256(orjson.dumps(proposal, option=orjson.OPT_SORT_KEYS)).hexdigest()


def approval_reason(subject: Subject, proposal: dict[str, Any]) -> str:
    """One sentence on why a person (or the policy) must decide."""
    invitees = len(proposal["attendees"]["internal"]) + len(proposal["attendees"]["customer"])
    if not subject["approval_required"]:
        return (
            f"The policy needs no approval for this kickoff; invitations to {invitees} people"
            " are recorded here and sent once the policy approves it."
        )
    if subject["action"] == "request_kickoff_approval":
        return (
            f"Company intake asks for an approval before inviting {invitees} people to"
            f" {proposal['title']!r}, as the company's lifecycle rule requires."
        )
    return (
        f"Invitations to {invitees} people, customers included, go out only once an approver"
        f" has checked the attendees and picked a slot for {proposal['title']!r}."
    )


def chosen_slot(slots: list[ProposedSlot], decision: Decision) -> tuple[ProposedSlot, list[Issue]]:
    """The slot the approver picked (`edits.slot_index`), else the first one; an index
    outside the proposal falls back to the first slot with an `invalid_approval_edit` issue."""
    edits = decision.get("edits") or {}
    if "slot_index" not in edits:
        return slots[0], []
    wanted = edits["slot_index"]
    index = _as_index(wanted)
    if index is not None and 0 <= index < len(slots):
        return slots[index], []
    problem = issue(
        kind="invalid_approval_edit",
        severity="warning",
        message=(
            f"Approval {decision['approval_id']} picked slot {wanted!r}, but the proposal has"
            f" slots 0 to {len(slots) - 1}; the first slot ({slots[0]['label']}) was used."
        ),
        suggested_fix="Move the meeting in the calendar if another time was meant.",
        step="create_event",
        key="slot_index",
        details={"slot_index": str(wanted), "slots": [s["start"] for s in slots]},
    )
    return slots[0], [problem]


def _as_index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def attendee_emails(
    internal: list[InternalAttendee], customers: list[CustomerAttendee]
) -> list[str]:
    """Everyone invited, team first, without repeats."""
    emails = [m["email"] for m in internal] + [c["email"] for c in customers]
    return list(dict.fromkeys(emails))


def event_description(subject: Subject, organiser: Organiser, decision: Decision) -> str:
    about = (
        f"deal {subject['deal_name']} (HubSpot deal {subject['deal_id']})"
        if subject["deal_id"]
        else f"company {subject['company_name']} (HubSpot company {subject['company_id']})"
    )
    return (
        f"Kickoff for {about}, run by {organiser['member']['name']}."
        f" Approved by {decision['decided_by'] or 'the policy'}"
        f" (approval {decision['approval_id']})."
    )


def rejection_summary(title: str, decision: Decision) -> str:
    """The note for the HubSpot record when the kickoff is not scheduled."""
    if decision["decision"] == "expire":
        return (
            f"{title} was not scheduled: approval {decision['approval_id']} expired without a"
            " decision."
        )
    reason = f" Reason: {decision['note']}" if decision.get("note") else ""
    return (
        f"{title} was not scheduled: rejected by {decision['decided_by'] or 'an approver'}"
        f" (approval {decision['approval_id']}).{reason}"
    )
