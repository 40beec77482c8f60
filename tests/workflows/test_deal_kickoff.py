"""The deal kickoff workflow against the sandbox over HTTP: park with a proposal, approve (event,
Airtable record, Notion link), re-drive, pick another slot, reject, wrong stage, a second
trigger while pending, and a kickoff requested by company intake.

The clock is fixed at Tuesday 24 November 2026, 09:00 UTC (10:00 in Berlin), so the seeded
weekly calendars give known free slots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from orchestrator_core.ledger import idempotency_key
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records.approval_rules import DecisionRefused
from orchestrator_core.records.runs import WorkflowRun, request_child_run
from orchestrator_defs.runtime.runner import DriveResult, WorkflowRetryable
from orchestrator_defs.workflows.deal_kickoff.sop_page import notion_page_id
from orchestrator_defs.workflows.state import Decision
from resources.airtable import AirtableConnector
from resources.google_workspace import deterministic_event_id
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector
from tests.vendor_sandbox import (
    BASE_ID,
    SOP_PARENT,
    airtable_for,
    google_for,
    notion_for,
    sandbox_config,
)
from tests.workflows.conftest import (
    ProcessDied,
    WorkflowHarness,
    dies_after,
    event,
    requests_since,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
# Deal 5001 (Northwind, company 9001): owner Maria García (101), collaborator Priya Raman (103).
MARIA = "maria.garcia@harborlabs.example"
PRIYA = "priya.raman@harborlabs.example"
# Free for both after 24 h notice, one per day: Maria and Priya have a 09:00 stand-up.
EXPECTED_SLOTS = [
    "2026-11-25T10:00:00+01:00",
    "2026-11-26T09:30:00+01:00",
    "2026-11-27T09:30:00+01:00",
]


@pytest.fixture
def kickoff(harness: WorkflowHarness) -> WorkflowHarness:
    harness.now = NOW
    return harness


@pytest.fixture
def airtable(kickoff: WorkflowHarness) -> Iterator[AirtableConnector]:
    connector = airtable_for(kickoff.sandbox)
    yield connector
    connector.close()


def stage_change(deal_id: int, stage: str) -> dict[str, Any]:
    return event("deal.propertyChange", deal_id, propertyName="dealstage", propertyValue=stage)


def park_5001(kickoff: WorkflowHarness) -> tuple[WorkflowRun, DriveResult]:
    run = kickoff.start([stage_change(5001, "contractsent")], "deal_kickoff")
    parked = kickoff.drive(run)
    assert parked.status == "awaiting_approval", parked.message
    return run, parked


def events_in_sandbox(kickoff: WorkflowHarness) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = kickoff.sandbox.inspect("google/events")["events"]
    return events


def table(kickoff: WorkflowHarness, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = kickoff.sandbox.inspect(f"airtable/{BASE_ID}/{name}")["records"]
    return rows


def notes_on(kickoff: WorkflowHarness, object_id: str) -> list[dict[str, Any]]:
    notes = kickoff.sandbox.inspect("hubspot/notes")["results"]
    return [n for n in notes if object_id in str(n["associations"])]


def test_contract_stage_parks_with_a_proposal_and_writes_nothing(
    kickoff: WorkflowHarness, airtable: AirtableConnector
) -> None:
    # The contact role workflow mapped one contact already; the others are inferred.
    airtable.upsert_records(
        table="Contacts", records=[{"HubSpot ID": "7059", "Role": "project_lead"}]
    )

    run, parked = park_5001(kickoff)

    (approval,) = parked.approvals
    proposal = approval.proposal
    assert approval.kind == "kickoff" and approval.approver_role == "operator"
    assert approval.requested_by == "hubspot:userId:45678"
    # HubSpot user 45678 is owner 108 of the sandbox's portal: named by their email.
    assert approval.requested_by_email == "sam.sales@harborlabs.example"
    assert approval.raisers == [
        {"source": "hubspot:userId:45678", "email": "sam.sales@harborlabs.example"}
    ]
    assert approval.due_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert set(approval.policy_snapshot["sections"]) == {"deal_kickoff", "approvals"}
    assert approval.reason.endswith(".") and "approver" in approval.reason
    assert proposal["required"] is True
    assert proposal["title"] == "Kickoff: Northwind Traders"
    assert proposal["deal"] == {
        "id": "5001",
        "name": "Northwind Traders - Platform rollout",
        "stage": "contractsent",
    }
    assert proposal["company"] == {"id": "9001", "name": "Northwind Traders"}

    starts = [slot["start"] for slot in proposal["slots"]]
    assert starts == EXPECTED_SLOTS
    for slot in proposal["slots"]:
        start = datetime.fromisoformat(slot["start"]).astimezone(BERLIN)
        end = datetime.fromisoformat(slot["end"]).astimezone(BERLIN)
        assert start.weekday() < 5 and time(9) <= start.time() and end.time() <= time(17)
        assert (end - start).total_seconds() == 3600

    # Nobody on the deal team is in Customer Success: the owner runs the kickoff.
    assert proposal["organiser"]["email"] == MARIA
    assert proposal["organiser"]["reason"] == "owner_fallback"
    internal = proposal["attendees"]["internal"]
    assert [(a["email"], a["role"], a["runs_kickoff"]) for a in internal] == [
        (MARIA, "owner", True),
        (PRIYA, "collaborator", False),
    ]
    (customer,) = proposal["attendees"]["customer"]
    assert (customer["email"], customer["role"], customer["role_source"]) == (
        "emily.watson@northwind.example",
        "project_lead",
        "airtable",
    )

    assert events_in_sandbox(kickoff) == []
    assert kickoff.side_effects(run.thread_id) == []
    assert [a["asset"] for a in parked.artifacts] == ["kickoff/proposals"]
    assert kickoff.get_run(run.id).status == "awaiting_approval"


def test_approval_schedules_one_event_and_links_it(
    kickoff: WorkflowHarness, airtable: AirtableConnector
) -> None:
    notion = notion_for(kickoff.sandbox)
    sop = notion.create_page_from_template(title="Northwind Traders SOP", parent_page_id=SOP_PARENT)
    notion.close()
    airtable.upsert_records(
        table="Accounts",
        records=[{"HubSpot ID": "9001", "Name": "Northwind Traders", "SOP page": sop.url}],
    )
    run, parked = park_5001(kickoff)
    decision = kickoff.decide(parked.approvals[0], "approve")

    done = kickoff.drive(run, decision=decision)

    assert done.status == "succeeded" and done.outcome == "kickoff_scheduled"
    assert [a["asset"] for a in done.artifacts] == [
        "google/calendar_events",
        "airtable/kickoffs",
        "notion/kickoff_links",
    ]
    (stored,) = events_in_sandbox(kickoff)
    calendar_event = stored["event"]
    assert stored["sendUpdates"] == "all"
    assert calendar_event["summary"] == "Kickoff: Northwind Traders"
    assert calendar_event["start"]["dateTime"] == EXPECTED_SLOTS[0]
    assert {a["email"] for a in calendar_event["attendees"]} == {MARIA, PRIYA}

    (record,) = table(kickoff, "Kickoffs")
    fields = record["fields"]
    assert fields["HubSpot ID"] == "5001"
    assert fields["Event ID"] == calendar_event["id"]
    assert fields["Event link"] == calendar_event["htmlLink"]
    assert fields["Start"] == EXPECTED_SLOTS[0]
    assert fields["Approval ID"] == parked.approvals[0].id
    assert set(fields["Attendees"].split(", ")) == {MARIA, PRIYA}

    page = kickoff.sandbox.inspect(f"notion/pages/{sop.id}")
    bookmarks = [b["bookmark"]["url"] for b in page["blocks"] if b["type"] == "bookmark"]
    assert bookmarks == [calendar_event["htmlLink"]]

    # Re-driving with the same decision finds the thread finished: still one event.
    again = kickoff.drive(run, decision=decision)
    assert again.status == "already_done" and again.outcome == "kickoff_scheduled"
    assert len(events_in_sandbox(kickoff)) == 1
    assert [e["status"] for e in kickoff.side_effects(run.thread_id)] == ["succeeded"] * 3


def test_an_event_written_but_never_recorded_is_not_created_twice(
    kickoff: WorkflowHarness,
) -> None:
    # The insert reached Google but the ledger never learnt it (a crash in between): the
    # event id derives from the ledger key, so the retried insert finds the event instead.
    run, parked = park_5001(kickoff)
    key = idempotency_key(
        thread_id=run.thread_id, step="create_event", target="google:calendar:primary"
    )
    google = google_for(kickoff.sandbox)
    google.insert_event(
        summary="Kickoff: Northwind Traders",
        start=datetime.fromisoformat(EXPECTED_SLOTS[0]),
        end=datetime.fromisoformat("2026-11-25T11:00:00+01:00"),
        attendees=[MARIA, PRIYA],
        event_id=deterministic_event_id(key),
    )
    google.close()

    done = kickoff.drive(run, decision=kickoff.decide(parked.approvals[0], "approve"))

    assert done.outcome == "kickoff_scheduled"
    (stored,) = events_in_sandbox(kickoff)
    assert stored["event"]["id"] == deterministic_event_id(key)
    assert table(kickoff, "Kickoffs")[0]["fields"]["Event ID"] == deterministic_event_id(key)


def test_a_failed_write_after_the_event_resumes_without_a_second_event(
    kickoff: WorkflowHarness,
) -> None:
    run, parked = park_5001(kickoff)
    decision = kickoff.decide(parked.approvals[0], "approve")
    kickoff.sandbox.configure(sandbox_config(airtable={"faults": {"error_500_share": 1.0}}))

    with pytest.raises(WorkflowRetryable):
        kickoff.drive(run, decision=decision, final=False)
    assert len(events_in_sandbox(kickoff)) == 1

    kickoff.sandbox.configure(sandbox_config())
    done = kickoff.drive(run)  # the Dagster retry: resumes at the Airtable step

    assert done.outcome == "kickoff_scheduled"
    assert len(events_in_sandbox(kickoff)) == 1
    effects = {e["step"]: e for e in kickoff.side_effects(run.thread_id)}
    assert effects["create_event"]["attempts"] == 1
    assert effects["record_kickoff"]["status"] == "succeeded"


def test_no_sop_page_means_no_notion_link_and_no_error(kickoff: WorkflowHarness) -> None:
    run, parked = park_5001(kickoff)

    done = kickoff.drive(run, decision=kickoff.decide(parked.approvals[0], "approve"))

    assert done.outcome == "kickoff_scheduled"
    assert "notion/kickoff_links" not in [a["asset"] for a in done.artifacts]
    assert kickoff.exceptions(run.id) == []


def test_the_approver_can_pick_another_proposed_slot(kickoff: WorkflowHarness) -> None:
    run, parked = park_5001(kickoff)

    done = kickoff.drive(
        run, decision=kickoff.decide(parked.approvals[0], "approve", edits={"slot_index": 1})
    )

    assert done.outcome == "kickoff_scheduled"
    (stored,) = events_in_sandbox(kickoff)
    assert stored["event"]["start"]["dateTime"] == EXPECTED_SLOTS[1]


def test_a_slot_index_outside_the_proposal_uses_the_first_slot_and_says_so(
    kickoff: WorkflowHarness,
) -> None:
    run, parked = park_5001(kickoff)
    # Recording such a decision is refused (see tests/test_approval_rules.py); the graph still
    # guards against one that reaches it some other way.
    with pytest.raises(DecisionRefused) as refused:
        kickoff.decide(parked.approvals[0], "approve", edits={"slot_index": 7})
    assert refused.value.code == "invalid_edits" and "edits.slot_index" in refused.value.message
    decision = Decision(
        approval_id=parked.approvals[0].id,
        decision="approve",
        decided_by="operator@harborlabs.example",
        note=None,
        edits={"slot_index": 7},
    )

    done = kickoff.drive(run, decision=decision)

    assert done.outcome == "kickoff_scheduled"
    (stored,) = events_in_sandbox(kickoff)
    assert stored["event"]["start"]["dateTime"] == EXPECTED_SLOTS[0]
    (problem,) = kickoff.exceptions(run.id)
    assert problem["kind"] == "invalid_approval_edit" and problem["severity"] == "warning"


def test_rejection_writes_a_note_and_no_event(kickoff: WorkflowHarness) -> None:
    run, parked = park_5001(kickoff)
    decision = kickoff.decide(parked.approvals[0], "reject", note="Customer asked to wait")

    done = kickoff.drive(run, decision=decision)

    assert done.status == "succeeded" and done.outcome == "rejected"
    assert events_in_sandbox(kickoff) == []
    (note,) = notes_on(kickoff, "5001")
    body = note["properties"]["hs_note_body"]
    assert "Customer asked to wait" in body and "operator@harborlabs.example" in body
    assert table(kickoff, "Kickoffs") == []


def test_a_note_created_but_never_recorded_is_found_not_written_again(
    kickoff: WorkflowHarness,
) -> None:
    run, parked = park_5001(kickoff)
    decision = kickoff.decide(parked.approvals[0], "reject", note="Customer asked to wait")
    with dies_after(HubSpotConnector, "create_note") as created, pytest.raises(ProcessDied):
        kickoff.drive(run, decision=decision)
    (note,) = notes_on(kickoff, "5001")  # HubSpot has it; the ledger does not know
    assert note["id"] == created[0].id
    (entry,) = kickoff.side_effects(run.thread_id)
    assert (entry["step"], entry["status"], entry["attempts"]) == ("record_rejection", "pending", 1)
    key = idempotency_key(thread_id=run.thread_id, step="record_rejection", target=entry["target"])
    assert key in note["properties"]["hs_note_body"]
    seen = len(kickoff.sandbox.requests("hubspot"))

    done = kickoff.drive(run)  # the retry after the worker died

    assert done.status == "succeeded" and done.outcome == "rejected"
    assert notes_on(kickoff, "5001") == [note]
    (entry,) = kickoff.side_effects(run.thread_id)
    assert (entry["status"], entry["attempts"]) == ("succeeded", 2)
    assert (entry["external_id"], entry["result"]) == (note["id"], {"adopted": True})
    writes = requests_since(kickoff.sandbox, "hubspot", seen)
    assert ("POST", "/hubspot/crm/v4/associations/deals/notes/batch/read") in writes
    assert ("POST", "/hubspot/crm/v3/objects/notes/batch/read") in writes
    assert ("POST", "/hubspot/crm/v3/objects/notes") not in writes


def test_a_link_appended_but_never_recorded_is_found_not_appended_again(
    kickoff: WorkflowHarness, airtable: AirtableConnector
) -> None:
    notion = notion_for(kickoff.sandbox)
    sop = notion.create_page_from_template(title="Northwind Traders SOP", parent_page_id=SOP_PARENT)
    notion.close()
    airtable.upsert_records(
        table="Accounts",
        records=[{"HubSpot ID": "9001", "Name": "Northwind Traders", "SOP page": sop.url}],
    )
    run, parked = park_5001(kickoff)
    decision = kickoff.decide(parked.approvals[0], "approve")
    with dies_after(NotionConnector, "append_links") as appended, pytest.raises(ProcessDied):
        kickoff.drive(run, decision=decision)
    (block_id,) = appended[0]
    entries = {e["step"]: e for e in kickoff.side_effects(run.thread_id)}
    assert (entries["link_sop_page"]["status"], entries["link_sop_page"]["attempts"]) == (
        "pending",
        1,
    )
    seen = len(kickoff.sandbox.requests("notion"))

    done = kickoff.drive(run)

    assert done.outcome == "kickoff_scheduled"
    page = kickoff.sandbox.inspect(f"notion/pages/{sop.id}")
    (link,) = [b for b in page["blocks"] if b["type"] == "bookmark"]
    assert link["id"] == block_id
    entries = {e["step"]: e for e in kickoff.side_effects(run.thread_id)}
    assert (entries["link_sop_page"]["external_id"], entries["link_sop_page"]["attempts"]) == (
        block_id,
        2,
    )
    assert requests_since(kickoff.sandbox, "notion", seen) == [
        ("GET", f"/notion/v1/blocks/{sop.id}/children")  # the lookup, and no append
    ]
    assert len(events_in_sandbox(kickoff)) == 1


def test_an_expired_approval_ends_without_an_event(kickoff: WorkflowHarness) -> None:
    run, parked = park_5001(kickoff)
    expired = Decision(
        approval_id=parked.approvals[0].id,
        decision="expire",
        decided_by=None,
        note=None,
        edits={},
    )

    done = kickoff.drive(run, decision=expired)

    assert done.outcome == "expired"
    assert events_in_sandbox(kickoff) == []
    (note,) = notes_on(kickoff, "5001")
    assert "expired" in note["properties"]["hs_note_body"]


def test_a_stage_that_is_not_a_kickoff_stage_ends_at_once(kickoff: WorkflowHarness) -> None:
    run = kickoff.start([stage_change(5001, "qualifiedtobuy")], "deal_kickoff")

    done = kickoff.drive(run)

    assert done.status == "succeeded" and done.outcome == "not_a_kickoff_stage"
    assert done.approvals == [] and done.artifacts == []
    assert kickoff.side_effects(run.thread_id) == []
    assert kickoff.sandbox.requests("google") == []


def test_a_second_trigger_while_pending_is_already_scheduled(kickoff: WorkflowHarness) -> None:
    park_5001(kickoff)
    second = kickoff.start([stage_change(5001, "closedwon")], "deal_kickoff")

    done = kickoff.drive(second)

    assert done.outcome == "already_scheduled"
    assert done.approvals == []
    assert kickoff.sandbox.requests("google")[-1]["path"].endswith("/freeBusy")  # first run's


def test_a_scheduled_kickoff_is_not_proposed_again(kickoff: WorkflowHarness) -> None:
    run, parked = park_5001(kickoff)
    kickoff.drive(run, decision=kickoff.decide(parked.approvals[0], "approve"))
    later = kickoff.start([stage_change(5001, "closedwon")], "deal_kickoff")

    assert kickoff.drive(later).outcome == "already_scheduled"
    assert len(events_in_sandbox(kickoff)) == 1


def test_the_customer_success_manager_runs_the_kickoff_and_roles_are_inferred(
    kickoff: WorkflowHarness, airtable: AirtableConnector
) -> None:
    # Deal 5002 (Acme): owner Lukas Becker, collaborators Maria García and Chloé Martin, who is
    # in the Customer Success team. Its CRO contact is inferred to be the executive sponsor.
    # Company intake mirrored the company under a cleaned-up name, which the title uses.
    airtable.upsert_records(table="Accounts", records=[{"HubSpot ID": "9002", "Name": "Acme"}])
    run = kickoff.start([stage_change(5002, "closedwon")], "deal_kickoff")

    parked = kickoff.drive(run)

    proposal = parked.approvals[0].proposal
    assert proposal["organiser"]["email"] == "chloe.martin@harborlabs.example"
    assert proposal["organiser"]["reason"] == "primary_team"
    assert proposal["attendees"]["internal"][0]["runs_kickoff"] is True
    assert proposal["company"]["name"] == "Acme"
    assert proposal["title"] == "Kickoff: Acme"
    (customer,) = proposal["attendees"]["customer"]
    assert (customer["contact_id"], customer["role"], customer["role_source"]) == (
        "7064",
        "executive_sponsor",
        "inferred:rules",
    )
    assert any("inferred" in note for note in proposal["notes"])


def request_company_kickoff(kickoff: WorkflowHarness, action: str, company_id: int = 9001) -> int:
    lifecycle = event(
        "company.propertyChange",
        company_id,
        propertyName="lifecyclestage",
        propertyValue="customer",
    )
    parent = kickoff.start([lifecycle], "company_intake")
    return request_child_run(
        kickoff.db,
        parent=parent,
        workflow="deal_kickoff",
        object_type="company",
        object_id=company_id,
        reason="lifecycle stage became customer",
        details={"action": action},
        policy=kickoff.policy,
    )


def test_every_user_behind_the_events_is_a_raiser_and_an_unnamed_one_needs_an_admin(
    kickoff: WorkflowHarness,
) -> None:
    """Deal 5001 moved to the contract stage in one minute by Sam, by Priya, by HubSpot user
    99999, who is no owner (HubSpot gives no email for them), and by Sam again: one run."""
    events = [
        {**stage_change(5001, "contractsent"), "sourceId": f"userId:{user}"}
        for user in (45678, 71000103, 99999, 45678)
    ]
    parked = kickoff.drive(kickoff.start(events, "deal_kickoff"))

    assert parked.status == "awaiting_approval", parked.message
    (approval,) = parked.approvals
    assert approval.raisers == [
        {"source": "hubspot:userId:45678", "email": "sam.sales@harborlabs.example"},
        {"source": "hubspot:userId:71000103", "email": "priya.raman@harborlabs.example"},
        {"source": "hubspot:userId:99999", "email": None},
    ]
    assert approval.requested_by == "hubspot:userId:45678"
    assert approval.approver_role == "admin"  # an operator's, but for the unnamed raiser
    assert "userId:99999" in approval.reason


def test_a_kickoff_requested_by_company_intake(kickoff: WorkflowHarness) -> None:
    child_id = request_company_kickoff(kickoff, "request_kickoff_approval")

    parked = kickoff.drive(child_id)

    assert parked.status == "awaiting_approval"
    approval = parked.approvals[0]
    proposal = approval.proposal
    assert proposal["required"] is True
    assert proposal["deal"] is None and proposal["company"]["id"] == "9001"
    assert proposal["requested_action"] == "request_kickoff_approval"
    assert proposal["organiser"]["email"] == MARIA
    assert proposal["organiser"]["reason"] == "company_owner"
    assert "Company intake" in approval.reason
    assert approval.requested_by == "hubspot:userId:45678"

    done = kickoff.drive(child_id, decision=kickoff.decide(approval, "approve"))
    assert done.outcome == "kickoff_scheduled"
    assert table(kickoff, "Kickoffs")[0]["fields"]["Object type"] == "company"


def test_without_a_required_approval_the_proposal_says_so(
    kickoff: WorkflowHarness, policy: LoadedPolicy
) -> None:
    relaxed = policy.policy.model_copy(
        update={
            "deal_kickoff": policy.policy.deal_kickoff.model_copy(
                update={
                    "approval": policy.policy.deal_kickoff.approval.model_copy(
                        update={"required": False}
                    )
                }
            )
        }
    )
    kickoff.policy = LoadedPolicy(policy=relaxed, path=policy.path, content_hash="relaxed")
    _, parked = park_5001(kickoff)
    assert parked.approvals[0].proposal["required"] is False

    # A company request that only proposes needs no approval either; one that asks for it does.
    proposed = kickoff.drive(request_company_kickoff(kickoff, "propose_kickoff"))
    assert proposed.approvals[0].proposal["required"] is False
    asked = kickoff.drive(request_company_kickoff(kickoff, "request_kickoff_approval", 9002))
    assert asked.approvals[0].proposal["required"] is True


def test_no_common_free_time_is_no_slot(kickoff: WorkflowHarness) -> None:
    # An all-day event over the whole search window that invites Maria blocks her calendar.
    google = google_for(kickoff.sandbox)
    google.insert_event(
        summary="Parental leave",
        start=NOW,
        end=datetime(2026, 12, 5, tzinfo=UTC),
        attendees=[MARIA],
        send_updates="none",
    )
    google.close()
    run = kickoff.start([stage_change(5001, "contractsent")], "deal_kickoff")

    done = kickoff.drive(run)

    assert done.status == "succeeded" and done.outcome == "no_slot"
    assert done.approvals == []
    (problem,) = kickoff.exceptions(run.id)
    assert problem["kind"] == "no_kickoff_slot"
    assert MARIA in problem["message"]
    assert kickoff.side_effects(run.thread_id) == []


def test_notion_page_ids_are_read_from_ids_and_urls() -> None:
    dashed = "1b2c3d4e-0000-4a00-8000-00000000a003"
    assert notion_page_id(dashed) == dashed
    assert notion_page_id("1B2C3D4E00004A00800000000000A003") == dashed
    url = "https://www.notion.so/Northwind-Traders-SOP-1b2c3d4e00004a00800000000000a003"
    assert notion_page_id(url) == dashed
    assert notion_page_id("see the wiki") is None
