"""The deal kickoff's writing nodes, after the approval: the calendar event, the Airtable
kickoff record and the link on the company's SOP page when approved; the HubSpot note when
rejected or expired.

Every vendor write goes through the side-effect ledger, keyed on the run, so a resumed run does
not repeat what it already wrote.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langgraph.runtime import Runtime

from orchestrator_core.ledger import WriteResult
from orchestrator_defs.workflows.common import Update, end, note_once
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.deal_kickoff.proposal import (
    attendee_emails,
    chosen_slot,
    event_description,
    rejection_summary,
)
from orchestrator_defs.workflows.deal_kickoff.sop_page import sop_page_id
from orchestrator_defs.workflows.deal_kickoff.state import KickoffEvent, KickoffState
from orchestrator_defs.workflows.state import artifact
from resources.google_workspace import deterministic_event_id
from resources.hubspot import CrmObjectType
from resources.notion import NotionLink


def create_event(state: KickoffState, runtime: Runtime[WorkflowContext]) -> Update:
    """The calendar event on the organiser calendar, invitations sent to every attendee."""
    ctx = runtime.context
    meeting = ctx.policy.policy.deal_kickoff.meeting
    proposal = state["proposal"]
    slot, issues = chosen_slot(state["slots"], state["decision"])
    calendar_id = ctx.options.organiser_calendar_id
    attendees = attendee_emails(state["internal_attendees"], state["customer_attendees"])
    description = event_description(state["subject"], state["organiser"], state["decision"])

    def insert(key: str) -> WriteResult:
        # The event id derives from the ledger key: even if the ledger never learns that this
        # insert succeeded, the retry reuses the id and Google refuses a second event.
        event = ctx.google.insert_event(
            summary=proposal["title"],
            start=datetime.fromisoformat(slot["start"]),
            end=datetime.fromisoformat(slot["end"]),
            attendees=attendees,
            calendar_id=calendar_id,
            description=description,
            event_id=deterministic_event_id(key),
            time_zone=meeting.working_hours.time_zone,
            send_updates="all",
        )
        return WriteResult(
            external_id=event.id,
            result={
                "id": event.id,
                "calendar_id": calendar_id,
                "html_link": event.html_link,
                "start": slot["start"],
                "end": slot["end"],
                "attendees": list(event.attendees),
                "slot_index": slot["index"],
            },
        )

    entry = ctx.write_once(
        step="create_event", target=f"google:calendar:{calendar_id}", write=insert
    )
    event = _kickoff_event(entry.result)
    return {
        "event": event,
        "issues": issues,
        "artifacts": [
            artifact(
                asset="google/calendar_events",
                system="google",
                external_id=event["id"],
                description=f"{proposal['title']} at {slot['label']}",
                url=event["html_link"],
                details={"start": event["start"], "attendees": list(event["attendees"])},
            )
        ],
    }


def record_kickoff(state: KickoffState, runtime: Runtime[WorkflowContext]) -> Update:
    """The kickoff in the Airtable "Kickoffs" table, keyed on the deal (or company) id."""
    ctx = runtime.context
    subject = state["subject"]
    event = state["event"]
    table = ctx.options.tables.kickoffs
    fields = {
        "HubSpot ID": subject["object_id"],
        "Object type": subject["object_type"],
        "Title": state["proposal"]["title"],
        "Deal name": subject["deal_name"],
        "Company ID": subject["company_id"],
        "Company name": subject["company_name"],
        "Status": "Scheduled",
        "Event ID": event["id"],
        "Event link": event["html_link"],
        "Start": event["start"],
        "End": event["end"],
        "Organiser": state["organiser"]["member"]["email"],
        "Attendees": ", ".join(event["attendees"]),
        "Approval ID": state["decision"]["approval_id"],
        "Approved by": state["decision"]["decided_by"],
    }

    def upsert(key: str) -> WriteResult:
        result = ctx.airtable.upsert_records(table=table, records=[fields])
        record = result.records[0]
        return WriteResult(external_id=record.id, result={"record_id": record.id})

    entry = ctx.write_once(
        step="record_kickoff", target=f"airtable:{table}:{subject['object_id']}", write=upsert
    )
    return {
        "artifacts": [
            artifact(
                asset="airtable/kickoffs",
                system="airtable",
                external_id=entry.external_id,
                description=f"Kickoff record for {subject['object_type']} {subject['object_id']}",
                details={"event_id": event["id"], "start": event["start"]},
            )
        ]
    }


def link_sop_page(state: KickoffState, runtime: Runtime[WorkflowContext]) -> Update:
    """A link to the event on the company's SOP page, when its account record names one."""
    ctx = runtime.context
    subject = state["subject"]
    event = state["event"]
    done = end(
        "kickoff_scheduled",
        f"{state['proposal']['title']} scheduled for {event['start']}"
        f" with {len(event['attendees'])} attendee(s)",
    )
    page_id = _sop_page_id(ctx, subject["company_id"])
    if page_id is None or not event["html_link"]:
        return done
    link = NotionLink(
        url=event["html_link"], caption=f"{state['proposal']['title']} ({event['start']})"
    )

    def append(key: str) -> WriteResult:
        block_ids = ctx.notion.append_links(block_id=page_id, links=[link])
        return WriteResult(external_id=block_ids[0] if block_ids else None, result=list(block_ids))

    def find(key: str) -> WriteResult | None:
        # An earlier attempt died or failed after Notion may have appended the link: a bookmark
        # to the event already on the page is that link.
        found = ctx.notion.find_links(block_id=page_id, urls=[link.url]).get(link.url)
        return None if found is None else WriteResult(external_id=found, result=[found])

    entry = ctx.write_once(
        step="link_sop_page", target=f"notion:{page_id}", write=append, find=find
    )
    return {
        **done,
        "artifacts": [
            artifact(
                asset="notion/kickoff_links",
                system="notion",
                external_id=entry.external_id,
                description=f"Kickoff link on the SOP page of company {subject['company_id']}",
                details={"page_id": page_id, "event_id": event["id"]},
            )
        ],
    }


def record_rejection(state: KickoffState, runtime: Runtime[WorkflowContext]) -> Update:
    """No meeting; the reason goes on the HubSpot record when the policy asks for it."""
    ctx = runtime.context
    subject = state["subject"]
    decision = state["decision"]
    outcome = "expired" if decision["decision"] == "expire" else "rejected"
    summary = rejection_summary(state["proposal"]["title"], decision)
    if not ctx.policy.policy.approvals.hubspot_note_on_rejection:
        return end(outcome, summary)
    crm_type: CrmObjectType = "deals" if subject["object_type"] == "deal" else "companies"
    note = note_once(
        ctx,
        object_type=crm_type,
        object_id=subject["object_id"],
        step="record_rejection",
        body=summary,
        description=f"Kickoff {outcome} note on {subject['object_type']} {subject['object_id']}",
    )
    return {**end(outcome, summary), "artifacts": [note]}


def _kickoff_event(result: Any) -> KickoffEvent:
    if not isinstance(result, dict):
        raise TypeError(f"unexpected calendar write result: {result!r}")
    return KickoffEvent(
        id=str(result["id"]),
        calendar_id=str(result["calendar_id"]),
        html_link=result.get("html_link"),
        start=str(result["start"]),
        end=str(result["end"]),
        attendees=[str(email) for email in result.get("attendees") or []],
        slot_index=int(result.get("slot_index") or 0),
    )


def _sop_page_id(ctx: WorkflowContext, company_id: str | None) -> str | None:
    """The Notion page id in the company's Airtable account record, if it has one."""
    if not company_id:
        return None
    record = ctx.airtable.get_by_key(table=ctx.options.tables.accounts, key=company_id)
    return sop_page_id(record.fields) if record is not None else None
