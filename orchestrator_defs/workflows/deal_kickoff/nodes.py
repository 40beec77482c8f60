"""The deal kickoff's reading and deciding nodes, up to and including the approval: check the
trigger and duplicates, find the attendees, propose slots, ask for the approval.

They only read (HubSpot, Airtable, Calendar free/busy, the product's runs), so nothing is
written to a vendor until the approval is decided. The writing nodes are in `writes.py`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from orchestrator_core.policy import policy_snapshot
from orchestrator_core.policy.model import DealKickoff
from orchestrator_core.records import runs
from orchestrator_core.records.runs import WorkflowRun
from orchestrator_defs.workflows.common import (
    Update,
    clean_text,
    end,
    first_company,
    raised_by,
)
from orchestrator_defs.workflows.context import WorkflowContext
from orchestrator_defs.workflows.deal_kickoff.proposal import (
    approval_reason,
    build_proposal,
    proposal_hash,
    proposed_slot,
)
from orchestrator_defs.workflows.deal_kickoff.slots import Interval, SlotRules, find_slots
from orchestrator_defs.workflows.deal_kickoff.state import (
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    DEAL_PROPERTIES,
    KICKOFF_ACTIONS,
    WORKFLOW,
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
    internal_attendees,
    mapped_role,
    team_member,
)
from orchestrator_defs.workflows.state import Decision, Issue, approval_request, artifact, issue
from resources.errors import NotFoundError
from resources.hubspot import CrmObject


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
    internal = internal_attendees(
        members,
        organiser,
        owner_id=subject["owner_id"],
        company_request=subject["object_type"] == "company",
    )
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
    company = first_company(ctx, deal)
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
