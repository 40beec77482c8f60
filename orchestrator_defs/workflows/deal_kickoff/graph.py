"""Deal kickoff: when a deal reaches a contract stage (or company intake asks for a kickoff),
propose meeting slots to an approver; once approved, put the meeting in the team calendar and
link it in Airtable and on the company's Notion SOP page.

    check_trigger → check_duplicates → find_attendees → propose_slots → ask_approval
                                                                          │
            approve: create_event → record_kickoff → link_sop_page        │
            reject / expire: record_rejection  ◀──────────────────────────┘

A node that sets `outcome` before the approval ends the run (wrong stage, a kickoff already
scheduled or pending, nobody to run it, no free slot). Nodes up to the approval only read, so
nothing is written to a vendor until a person (or, with `required: false`, the policy) has
approved. `ask_approval` only builds the payload from state and calls `interrupt()`: LangGraph
runs the node again from its start on resume, so it must do nothing else.

Slot edits: the approver may pick another proposed slot with `edits: {"slot_index": n}`. An
index outside the proposal (or not an integer) does not fail the run, which would leave a
decided approval with no way forward: the first slot is used and an `invalid_approval_edit`
warning tells the operator, who can move the meeting in the calendar.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from orchestrator_core.ledger import WriteResult
from orchestrator_core.policy import policy_snapshot
from orchestrator_core.policy.model import DealKickoff
from orchestrator_core.records import runs
from orchestrator_core.records.runs import WorkflowRun
from orchestrator_defs.workflows.common import (
    clean_text,
    end,
    note_once,
    raised_by,
    unless_ended,
)
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.deal_kickoff.proposal import (
    approval_reason,
    attendee_emails,
    build_proposal,
    chosen_slot,
    event_description,
    notion_page_id,
    proposal_hash,
    proposed_slot,
    rejection_summary,
)
from orchestrator_defs.workflows.deal_kickoff.slots import Interval, SlotRules, find_slots
from orchestrator_defs.workflows.deal_kickoff.state import (
    InternalAttendee,
    KickoffEvent,
    KickoffState,
    Subject,
)
from orchestrator_defs.workflows.deal_kickoff.team import (
    CustomerAttendee,
    Organiser,
    TeamMember,
    choose_organiser,
    collaborator_ids,
    customer_attendee,
    deal_team,
    mapped_role,
    team_member,
)
from orchestrator_defs.workflows.state import (
    Decision,
    Issue,
    approval_request,
    artifact,
    issue,
)
from resources.errors import NotFoundError
from resources.google_workspace import deterministic_event_id
from resources.hubspot import CrmObject, CrmObjectType
from resources.notion import NotionLink

WORKFLOW = "deal_kickoff"
DEAL_PROPERTIES = ("dealname", "dealstage", "hubspot_owner_id", "hs_all_collaborator_owner_ids")
COMPANY_PROPERTIES = ("name", "hubspot_owner_id")
CONTACT_PROPERTIES = ("firstname", "lastname", "email", "jobtitle")
KICKOFF_ACTIONS = frozenset({"propose_kickoff", "request_kickoff_approval"})
# Accounts fields naming the company's SOP page: company intake writes "SOP page ID" and
# "SOP page" (the URL); the others are spellings a person editing the base might use. A page id
# or a Notion URL (whose last 32 hex digits are the page id) both work.
ACCOUNT_SOP_FIELDS = ("SOP page ID", "SOP page", "SOP page id", "SOP page URL", "Notion SOP page")


Update = dict[str, Any]


# -- before the approval: read only ------------------------------------------------------------


def check_trigger(state: KickoffState, runtime: Runtime[WorkflowContext]) -> Update:
    """Read the deal (or company) and decide whether this run is a kickoff at all."""
    ctx = runtime.context
    run = ctx.run
    kickoff = ctx.policy.policy.deal_kickoff
    if run.object_type == "deal" and run.object_id is not None:
        deal = ctx.hubspot.get_object(
            object_type="deals",
            object_id=str(run.object_id),
            properties=DEAL_PROPERTIES,
            associations=("companies", "contacts"),
        )
        stage = _stage_from_events(run) or deal.properties.get("dealstage")
        if not kickoff.is_trigger_stage(stage):
            return end(
                "not_a_kickoff_stage",
                f"deal {deal.id} moved to {stage!r}, not a kickoff stage"
                f" ({', '.join(kickoff.trigger_stages)})",
            )
        return {"subject": _deal_subject(ctx, deal, stage, kickoff)}
    action = _requested_action(run)
    if run.object_type == "company" and run.object_id is not None and action is not None:
        company = ctx.hubspot.get_object(
            object_type="companies",
            object_id=str(run.object_id),
            properties=COMPANY_PROPERTIES,
            associations=("contacts",),
        )
        return {"subject": _company_subject(ctx, company, action, kickoff)}
    return end(
        "not_a_kickoff_request",
        f"a {run.object_type} run from {run.trigger.get('source')!r} is not a kickoff request",
    )


def check_duplicates(state: KickoffState, runtime: Runtime[WorkflowContext]) -> Update:
    """At most one kickoff per deal (or company): pending or already scheduled ends this run."""
    ctx = runtime.context
    run = ctx.run
    assert run.object_type is not None and run.object_id is not None
    common: dict[str, Any] = {
        "workflow": WORKFLOW,
        "object_type": run.object_type,
        "object_id": run.object_id,
        "exclude_id": run.id,
    }
    with ctx.db.connection() as conn:
        others = runs.find_runs(conn, statuses=("awaiting_approval",), **common)
        others += runs.find_runs(
            conn, statuses=("succeeded",), outcomes=("kickoff_scheduled",), **common
        )
    if others:
        other = others[0]
        state_word = "is waiting for approval" if other.status == "awaiting_approval" else "ran"
        return end(
            "already_scheduled",
            f"kickoff run {other.id} for {run.object_type} {run.object_id} {state_word}"
            " already; one kickoff per object",
        )
    return {}


def find_attendees(state: KickoffState, runtime: Runtime[WorkflowContext]) -> Update:
    """The deal team (owners with emails), who runs the kickoff, and the customer contacts."""
    ctx = runtime.context
    subject = state["subject"]
    meeting = ctx.policy.policy.deal_kickoff.meeting
    owner_ids = list(
        dict.fromkeys([*filter(None, [subject["owner_id"]]), *subject["collaborator_ids"]])
    )
    members, issues = _team_members(ctx, owner_ids)
    if not members:
        return {
            **end("no_organiser", f"nobody on the {subject['object_type']} team can run it"),
            "issues": [
                *issues,
                issue(
                    kind="no_kickoff_organiser",
                    severity="error",
                    message=(
                        f"No owner of {subject['object_type']} {subject['object_id']} has a"
                        " HubSpot user with an email, so nobody can run the kickoff."
                    ),
                    suggested_fix="Assign an active owner in HubSpot, then re-run the workflow.",
                    step="find_attendees",
                    key=subject["object_id"],
                    details={"owner_ids": owner_ids},
                ),
            ],
        }
    if subject["object_type"] == "company":
        organiser = Organiser(
            member=members[0],
            reason="company_owner",
            explanation=f"{members[0]['name']} owns the company in HubSpot",
        )
    else:
        organiser = choose_organiser(members, role=meeting.internal_attendee_role)
    internal = _internal_attendees(members, organiser, subject)
    customers = _customer_attendees(ctx, subject["contact_ids"], meeting.customer_attendee_roles)
    return {
        "organiser": organiser,
        "internal_attendees": internal,
        "customer_attendees": customers,
        "issues": issues,
    }


def propose_slots(state: KickoffState, runtime: Runtime[WorkflowContext]) -> Update:
    """Slots free in every internal attendee's calendar, and the proposal built around them."""
    ctx = runtime.context
    subject = state["subject"]
    meeting = ctx.policy.policy.deal_kickoff.meeting
    now = ctx.now()
    earliest = now + timedelta(hours=meeting.min_notice_hours)
    latest = now + timedelta(days=meeting.search_days)
    calendars = [member["email"] for member in state["internal_attendees"]]
    free_busy = ctx.google.query_free_busy(
        calendar_ids=calendars,
        time_min=earliest,
        time_max=latest,
        time_zone=meeting.working_hours.time_zone,
    )
    busy = [
        Interval(block.start, block.end)
        for blocks in free_busy.busy.values()
        for block in blocks
        if block.end > block.start
    ]
    unchecked = sorted({c for c in calendars if c in free_busy.errors or c not in free_busy.busy})
    issues = [
        _unreadable_calendar(calendar, free_busy.errors.get(calendar)) for calendar in unchecked
    ]
    rules = SlotRules.from_meeting(meeting)
    found = find_slots(
        busy=busy,
        earliest=earliest,
        latest=latest,
        rules=rules,
        count=meeting.slots_to_propose,
    )
    if not found:
        return {
            **end("no_slot", f"no free {meeting.duration_minutes}-minute slot for the team"),
            "issues": [*issues, _no_slot_issue(subject, calendars, earliest, latest)],
        }
    slots = [proposed_slot(index, slot, rules.time_zone) for index, slot in enumerate(found)]
    proposal = build_proposal(
        subject=subject,
        organiser=state["organiser"],
        internal=state["internal_attendees"],
        customers=state["customer_attendees"],
        slots=slots,
        unchecked_calendars=unchecked,
        meeting=meeting,
        calendar_id=ctx.options.organiser_calendar_id,
    )
    digest = proposal_hash(proposal)
    return {
        "slots": slots,
        "proposal": proposal,
        "proposed_at": now.isoformat(),
        "issues": issues,
        "artifacts": [
            artifact(
                asset="kickoff/proposals",
                system="postgres",
                external_id=digest,
                description=f"{proposal['title']}: {len(slots)} slot(s) proposed",
                details={"slots": [slot["start"] for slot in slots], "proposal_hash": digest},
            )
        ],
    }


def ask_approval(state: KickoffState, runtime: Runtime[WorkflowContext]) -> Update:
    """Park until a person (or the policy) decides. Nothing but the interrupt happens here."""
    ctx = runtime.context
    approval = ctx.policy.policy.deal_kickoff.approval
    proposed_at = datetime.fromisoformat(state["proposed_at"])
    decision: Decision = interrupt(
        approval_request(
            kind="kickoff",
            proposal=state["proposal"],
            reason=approval_reason(state["subject"], state["proposal"]),
            policy_snapshot=policy_snapshot(ctx.policy, sections=["deal_kickoff", "approvals"]),
            approver_role=approval.approver_role,
            due_at=proposed_at + timedelta(hours=approval.due_hours),
            **raised_by(ctx),
        )
    )
    return {"decision": decision}


def after_decision(state: KickoffState) -> Literal["create_event", "record_rejection"]:
    return "create_event" if state["decision"]["decision"] == "approve" else "record_rejection"


# -- after the approval: writes, each through the ledger ------------------------------------


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

    entry = ctx.write_once(step="link_sop_page", target=f"notion:{page_id}", write=append)
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


# -- the graph -------------------------------------------------------------------------------


def build_graph() -> StateGraph[Any, Any, Any, Any]:
    graph: StateGraph[Any, Any, Any, Any] = StateGraph(KickoffState, context_schema=WorkflowContext)
    steps = [check_trigger, check_duplicates, find_attendees, propose_slots, ask_approval]
    for node in [*steps, create_event, record_kickoff, link_sop_page, record_rejection]:
        graph.add_node(node.__name__, node)
    graph.add_edge(START, "check_trigger")
    for node, following in itertools.pairwise(steps):
        graph.add_conditional_edges(
            node.__name__, unless_ended(following.__name__), [following.__name__, END]
        )
    graph.add_conditional_edges(
        "ask_approval", after_decision, ["create_event", "record_rejection"]
    )
    graph.add_edge("create_event", "record_kickoff")
    graph.add_edge("record_kickoff", "link_sop_page")
    graph.add_edge("link_sop_page", END)
    graph.add_edge("record_rejection", END)
    return graph


# -- helpers -------------------------------------------------------------------------------


def _stage_from_events(run: WorkflowRun) -> str | None:
    """The stage the deal moved to, from the last dealstage change among the run's events."""
    stages = [
        e.get("property_value")
        for e in run.events
        if e.get("property_name") == "dealstage" and e.get("property_value")
    ]
    return str(stages[-1]) if stages else None


def _requested_action(run: WorkflowRun) -> str | None:
    if run.trigger.get("source") != "workflow":
        return None
    action = (run.trigger.get("details") or {}).get("action")
    return action if action in KICKOFF_ACTIONS else None


def _deal_subject(
    ctx: WorkflowContext, deal: CrmObject, stage: str | None, kickoff: DealKickoff
) -> Subject:
    company_ids = deal.associations.get("companies", ())
    company = (
        ctx.hubspot.get_object(
            object_type="companies", object_id=company_ids[0], properties=["name"]
        )
        if company_ids
        else None
    )
    return Subject(
        object_type="deal",
        object_id=deal.id,
        deal_id=deal.id,
        deal_name=deal.properties.get("dealname"),
        stage=stage,
        company_id=company.id if company else None,
        company_name=_company_name(ctx, company) if company else None,
        owner_id=deal.properties.get("hubspot_owner_id") or None,
        collaborator_ids=collaborator_ids(deal.properties.get("hs_all_collaborator_owner_ids")),
        contact_ids=list(deal.associations.get("contacts", ())),
        action=None,
        approval_required=kickoff.approval.required,
    )


def _company_subject(
    ctx: WorkflowContext, company: CrmObject, action: str, kickoff: DealKickoff
) -> Subject:
    return Subject(
        object_type="company",
        object_id=company.id,
        deal_id=None,
        deal_name=None,
        stage=None,
        company_id=company.id,
        company_name=_company_name(ctx, company),
        owner_id=company.properties.get("hubspot_owner_id") or None,
        collaborator_ids=[],
        contact_ids=list(company.associations.get("contacts", ())),
        action=action,
        # The lifecycle rule can ask for an approval the policy would otherwise skip.
        approval_required=kickoff.approval.required or action == "request_kickoff_approval",
    )


def _company_name(ctx: WorkflowContext, company: CrmObject) -> str | None:
    """The name customers see in the invitation: the account's cleaned-up name when company
    intake has mirrored the company (HubSpot's can read "  acme corp., inc  "), else HubSpot's."""
    account = ctx.airtable.get_by_key(table=ctx.options.tables.accounts, key=company.id)
    name = account.fields.get("Name") if account else None
    return clean_text(name if isinstance(name, str) else None) or clean_text(
        company.properties.get("name")
    )


def _team_members(
    ctx: WorkflowContext, owner_ids: list[str]
) -> tuple[list[TeamMember], list[Issue]]:
    members: list[TeamMember] = []
    issues: list[Issue] = []
    for owner_id in owner_ids:
        try:
            member = team_member(ctx.hubspot.get_owner(owner_id))
        except NotFoundError:
            member = None
        if member is None:
            issues.append(
                issue(
                    kind="kickoff_owner_unavailable",
                    severity="warning",
                    message=(
                        f"HubSpot owner {owner_id} is on the team but is not an active user"
                        " with an email; left out of the kickoff."
                    ),
                    suggested_fix="Replace the owner or collaborator in HubSpot if they left.",
                    step="find_attendees",
                    key=owner_id,
                )
            )
            continue
        members.append(member)
    return deal_team(members), issues


def _internal_attendees(
    members: list[TeamMember], organiser: Organiser, subject: Subject
) -> list[InternalAttendee]:
    """The team with the organiser first; each says how they belong to the deal."""
    runner = organiser["member"]["email"]
    owner_role: Literal["owner", "company_owner"] = (
        "company_owner" if subject["object_type"] == "company" else "owner"
    )
    attendees: list[InternalAttendee] = []
    for member in sorted(members, key=lambda m: m["email"] != runner):
        role: Literal["owner", "collaborator", "company_owner"] = (
            owner_role if member["owner_id"] == subject["owner_id"] else "collaborator"
        )
        attendees.append(
            InternalAttendee(**member, role=role, runs_kickoff=member["email"] == runner)
        )
    return attendees


def _customer_attendees(
    ctx: WorkflowContext, contact_ids: list[str], wanted_roles: tuple[str, ...]
) -> list[CustomerAttendee]:
    """Associated contacts whose role (mapped in Airtable, else inferred) is invited."""
    if not contact_ids or not wanted_roles:
        return []
    policy = ctx.policy.policy
    contacts = ctx.hubspot.batch_read(
        object_type="contacts", object_ids=contact_ids, properties=CONTACT_PROPERTIES
    )
    contacts.sort(
        key=lambda c: contact_ids.index(c.id) if c.id in contact_ids else len(contact_ids)
    )
    records = ctx.airtable.find_by_keys(
        table=ctx.options.tables.contacts, keys=[c.id for c in contacts]
    )
    fields = {key: record.fields for key, record in records.items()}
    to_infer = [c for c in contacts if mapped_role(fields.get(c.id), list(policy.roles)) is None]
    inferences = dict(
        zip(
            [c.id for c in to_infer],
            ctx.enricher.infer_titles(
                [c.properties.get("jobtitle") for c in to_infer],
                review_threshold=policy.role_mapping.min_confidence,
            ),
            strict=True,
        )
    )
    attendees: list[CustomerAttendee] = []
    for contact in contacts:
        attendee = customer_attendee(
            contact_id=contact.id,
            properties=contact.properties,
            airtable_fields=fields.get(contact.id),
            inference=inferences.get(contact.id),
            policy=policy,
        )
        if attendee is not None and attendee["role"] in wanted_roles:
            attendees.append(attendee)
    return attendees


def _unreadable_calendar(calendar: str, reasons: tuple[str, ...] | None) -> Issue:
    return issue(
        kind="calendar_unreadable",
        severity="warning",
        message=(
            f"Google could not read the calendar of {calendar}"
            f" ({', '.join(reasons or ('no answer',))}); slots were chosen without it."
        ),
        suggested_fix="Share the calendar's free/busy with the orchestrator's account.",
        step="propose_slots",
        key=calendar,
    )


def _no_slot_issue(
    subject: Subject, calendars: list[str], earliest: datetime, latest: datetime
) -> Issue:
    return issue(
        kind="no_kickoff_slot",
        severity="warning",
        message=(
            f"No kickoff slot for {subject['object_type']} {subject['object_id']}: the team"
            f" ({', '.join(calendars)}) has no common free time in working hours between"
            f" {earliest.isoformat()} and {latest.isoformat()}."
        ),
        suggested_fix=(
            "Free some time in the team's calendars (or widen deal_kickoff.meeting.search_days"
            " in the policy), then re-run the workflow, or schedule the kickoff by hand."
        ),
        step="propose_slots",
        key=subject["object_id"],
        details={"calendars": calendars, "from": earliest.isoformat(), "to": latest.isoformat()},
    )


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
    if record is None:
        return None
    for field in ACCOUNT_SOP_FIELDS:
        value = record.fields.get(field)
        if isinstance(value, str) and (page_id := notion_page_id(value)):
            return page_id
    return None
