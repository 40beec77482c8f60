"""GET /api/runs (filters, pages) and GET /api/runs/{id} (events, steps, state summary, Dagster
runs and links, exceptions, approvals), on runs written by the product's own write helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records import runs
from orchestrator_core.records.approvals import ApprovalRequest, request_approval
from orchestrator_core.records.dispatch import dispatch_received
from orchestrator_core.records.exceptions import NewException, open_exception
from tests.conftest import WEBHOOK_SECRET
from tests.support import (
    PORTAL_ID,
    dagster_link,
    hubspot_event,
    post_delivery,
    workflow_run_id,
)

DUE_AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
STATE_SUMMARY = {"company": {"name": "Acme GmbH", "domain": "acme.example"}, "artifacts": 2}
# Every request reads as a viewer (who may call what: test_access_matrix.py).
pytestmark = pytest.mark.usefixtures("as_viewer")


@dataclass
class World:
    """Five runs: company (succeeded on its second Dagster run, one exception), contact 7001
    (running), deal kickoff (parked at an approval), procurement (failed, two events), contact
    7002 (requested, by a later dispatch pass)."""

    company: int
    contact: int
    kickoff: int
    procurement: int
    late_contact: int
    envelopes: dict[str, int]
    event_ids: dict[str, int]
    exception_id: int
    approval_id: int

    @property
    def newest_first(self) -> list[int]:
        return [self.late_contact, self.procurement, self.kickoff, self.contact, self.company]


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
    names = ["company", "contact", "dealstage", "amount", "currency", "ticket"]
    events = [
        hubspot_event("company.creation", objectId=9001),
        hubspot_event("contact.creation", objectId=7001),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="dealstage"),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="amount"),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="deal_currency_code"),
        hubspot_event("ticket.creation.v2", objectId=1),
    ]
    envelopes = dict(zip(names, post_delivery(client, events, WEBHOOK_SECRET), strict=True))
    event_ids = {name: e["eventId"] for name, e in zip(names, events, strict=True)}
    assert dispatch_received(db, policy, limit=100).runs_created == 4
    # A later delivery, dispatched by a later pass: requested later.
    late = hubspot_event("contact.propertyChange", objectId=7002, propertyName="jobtitle")
    (envelopes["jobtitle"],) = post_delivery(client, [late], WEBHOOK_SECRET)
    event_ids["jobtitle"] = late["eventId"]
    assert dispatch_received(db, policy, limit=100).runs_created == 1

    company = workflow_run_id(db, "company_intake", 9001)
    # First Dagster run: two steps, then a permanent failure with an exception.
    runs.begin_attempt(
        db, workflow_run_id=company, dagster_run_id="dg-a1", job_name="company_intake", kind="start"
    )
    for step in ("load_company", "enrich"):
        runs.record_step(db, workflow_run_id=company, dagster_run_id="dg-a1", step=step)
    exception = open_exception(
        db,
        NewException(
            kind="connector_permanent",
            severity="error",
            message="hubspot update failed: HTTP 400",
            suggested_fix="correct the record in HubSpot, then re-execute the run",
            step="write_hubspot",
        ),
        run=runs.get_run(db, company),
        dagster_run_id="dg-a1",
    )
    runs.fail(db, workflow_run_id=company, dagster_run_id="dg-a1", error="hubspot: HTTP 400")
    # Re-executed from the UI: resumes and finishes.
    runs.begin_attempt(
        db,
        workflow_run_id=company,
        dagster_run_id="dg-a2",
        job_name="company_intake",
        kind="resume",
    )
    runs.record_step(db, workflow_run_id=company, dagster_run_id="dg-a2", step="write_hubspot")
    runs.finish(
        db,
        workflow_run_id=company,
        dagster_run_id="dg-a2",
        outcome="mirrored",
        message="company mirrored to Airtable",
        state_summary=STATE_SUMMARY,
    )

    contact = workflow_run_id(db, "contact_role_mapping", 7001)
    runs.begin_attempt(
        db, workflow_run_id=contact, dagster_run_id="dg-b1", job_name="contact", kind="start"
    )

    kickoff = workflow_run_id(db, "deal_kickoff", 5001)
    runs.begin_attempt(
        db, workflow_run_id=kickoff, dagster_run_id="dg-c1", job_name="deal_kickoff", kind="start"
    )
    runs.record_step(db, workflow_run_id=kickoff, dagster_run_id="dg-c1", step="propose_slots")
    approval = request_approval(
        db,
        run=runs.get_run(db, kickoff),
        interrupt_id="interrupt-1",
        request=ApprovalRequest(
            kind="kickoff",
            proposal={"slot": "2026-12-03T10:00:00Z"},
            reason="kickoff slots need the account manager's choice",
            policy_snapshot={"version": policy.version, "content_hash": policy.content_hash},
            approver_role="account_manager",
            due_at=DUE_AT,
            requested_by="hubspot:userId:45678",
        ),
        dagster_run_id="dg-c1",
    )
    runs.park(
        db,
        workflow_run_id=kickoff,
        dagster_run_id="dg-c1",
        state_summary={"slots": 3},
        message="waiting for the kickoff slot",
    )

    procurement = workflow_run_id(db, "procurement_approval", 5001)
    runs.begin_attempt(
        db, workflow_run_id=procurement, dagster_run_id="dg-d1", job_name="proc", kind="start"
    )
    runs.fail(db, workflow_run_id=procurement, dagster_run_id="dg-d1", error="budget unknown")

    return World(
        company=company,
        contact=contact,
        kickoff=kickoff,
        procurement=procurement,
        late_contact=workflow_run_id(db, "contact_role_mapping", 7002),
        envelopes=envelopes,
        event_ids=event_ids,
        exception_id=exception["id"],
        approval_id=approval.id,
    )


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_lists_newest_first_with_links(
    client: TestClient, world: World, policy: LoadedPolicy
) -> None:
    page = client.get("/api/runs").json()
    assert [i["id"] for i in page["items"]] == world.newest_first
    assert page["next_cursor"] is None
    by_id = {item["id"]: item for item in page["items"]}

    company = by_id[world.company]
    assert company["workflow"] == "company_intake"
    assert company["status"] == "succeeded"
    assert company["outcome"] == "mirrored"
    assert company["outcome_message"] == "company mirrored to Airtable"
    assert (company["portal_id"], company["object_type"], company["object_id"]) == (
        PORTAL_ID,
        "company",
        9001,
    )
    assert company["envelope_ids"] == [world.envelopes["company"]]
    assert company["dagster_run_id"] == "dg-a2"
    assert company["dagster_url"] == dagster_link("dg-a2")
    assert company["policy_version"] == policy.version
    assert company["started_at"] and company["finished_at"] and company["thread_id"]

    requested = by_id[world.late_contact]
    assert requested["status"] == "requested"
    assert requested["dagster_run_id"] is None and requested["dagster_url"] is None
    assert by_id[world.procurement]["error"] == "budget unknown"
    assert by_id[world.procurement]["envelope_ids"] == [
        world.envelopes["amount"],
        world.envelopes["currency"],
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"workflow": "contact_role_mapping"}, ["late_contact", "contact"]),
        ({"status": "succeeded"}, ["company"]),
        ({"status": "running"}, ["contact"]),
        ({"status": "awaiting_approval"}, ["kickoff"]),
        ({"status": "failed"}, ["procurement"]),
        ({"status": "requested"}, ["late_contact"]),
        ({"object_type": "deal"}, ["procurement", "kickoff"]),
        ({"object_type": "contact", "object_id": 7002}, ["late_contact"]),
        ({"workflow": "contact_role_mapping", "status": "running"}, ["contact"]),
        ({"workflow": "no_such_workflow"}, []),
    ],
)
def test_filters(
    client: TestClient, world: World, params: dict[str, Any], expected: list[str]
) -> None:
    assert ids(client.get("/api/runs", params=params)) == [getattr(world, n) for n in expected]


def test_filter_by_envelope(
    client: TestClient, world: World, db: psycopg.Connection[Any], policy: LoadedPolicy
) -> None:
    def runs_of(envelope: str) -> list[int]:
        return ids(client.get("/api/runs", params={"envelope_id": world.envelopes[envelope]}))

    assert runs_of("currency") == [world.procurement]
    assert runs_of("dealstage") == [world.kickoff]
    assert runs_of("ticket") == []  # unrouted
    # A run requested by another run carries its parent's envelopes.
    child = runs.request_child_run(
        db,
        parent=runs.get_run(db, world.company),
        workflow="deal_kickoff",
        object_type="deal",
        object_id=5002,
        reason="company became a customer",
        details={},
        policy=policy,
    )
    assert runs_of("company") == [child, world.company]


def test_filter_by_requested_time(client: TestClient, world: World) -> None:
    late = client.get(f"/api/runs/{world.late_contact}").json()
    second_pass = late["requested_at"]
    assert ids(client.get("/api/runs", params={"requested_from": second_pass})) == [
        world.late_contact
    ]
    assert (
        ids(client.get("/api/runs", params={"requested_to": second_pass})) == world.newest_first[1:]
    )
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ids(client.get("/api/runs", params={"requested_from": future})) == []
    assert ids(client.get("/api/runs", params={"requested_to": future})) == world.newest_first


def test_pages_with_a_cursor(client: TestClient, world: World) -> None:
    seen: list[list[int]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/api/runs", params=params).json()
        seen.append([item["id"] for item in page["items"]])
        if page["next_cursor"] is None:
            break
        params["before_id"] = page["next_cursor"]
    expected = world.newest_first
    assert seen == [expected[0:2], expected[2:4], expected[4:]]
    # A page exactly as long as what is left has no next page.
    assert client.get("/api/runs", params={"limit": 5}).json()["next_cursor"] is None
    # The cursor combines with the filters.
    first = client.get("/api/runs", params={"workflow": "contact_role_mapping", "limit": 1}).json()
    assert [i["id"] for i in first["items"]] == [world.late_contact]
    rest = client.get(
        "/api/runs",
        params={"workflow": "contact_role_mapping", "limit": 1, "before_id": first["next_cursor"]},
    ).json()
    assert [i["id"] for i in rest["items"]] == [world.contact]
    assert rest["next_cursor"] is None


def test_detail_of_a_finished_run(client: TestClient, world: World, policy: LoadedPolicy) -> None:
    response = client.get(f"/api/runs/{world.company}")
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["id"] == world.company
    assert run["workflow"] == "company_intake"
    assert (run["status"], run["outcome"]) == ("succeeded", "mirrored")
    assert run["outcome_message"] == "company mirrored to Airtable"
    assert run["thread_id"].startswith("company_intake")
    assert (run["object_type"], run["object_id"]) == ("company", 9001)
    assert run["steps"] == ["load_company", "enrich", "write_hubspot"]
    assert run["state_summary"] == STATE_SUMMARY
    assert run["error"] is None  # the re-execution cleared the first run's error
    assert (run["policy_version"], run["policy_hash"]) == (policy.version, policy.content_hash)
    assert run["trigger"]["source"] == "hubspot"
    assert run["dagster_run_id"] == "dg-a2" and run["dagster_url"] == dagster_link("dg-a2")

    (event,) = run["events"]
    assert event == {
        "id": world.envelopes["company"],
        "event_id": world.event_ids["company"],
        "subscription_type": "company.creation",
        "property_name": None,
        "occurred_at": event["occurred_at"],
        "status": "processed",
    }
    assert event["occurred_at"].startswith("2026-11-24T09:00:00")

    first, second = run["attempts"]
    assert {k: first[k] for k in ("dagster_run_id", "dagster_url", "kind", "job_name")} == {
        "dagster_run_id": "dg-a1",
        "dagster_url": dagster_link("dg-a1"),
        "kind": "start",
        "job_name": "company_intake",
    }
    assert (first["status"], first["error"]) == ("failed", "hubspot: HTTP 400")
    assert first["steps"] == ["load_company", "enrich"]
    assert first["finished_at"] is not None
    assert (second["dagster_run_id"], second["dagster_url"]) == ("dg-a2", dagster_link("dg-a2"))
    assert (second["kind"], second["status"], second["error"]) == ("resume", "succeeded", None)
    assert second["steps"] == ["write_hubspot"]
    assert second["started_at"] >= first["started_at"]

    assert run["exceptions"] == [
        {
            "id": world.exception_id,
            "kind": "connector_permanent",
            "severity": "error",
            "status": "open",
            "message": "hubspot update failed: HTTP 400",
        }
    ]
    assert run["approvals"] == []


def test_detail_of_a_parked_run_shows_its_approval(client: TestClient, world: World) -> None:
    run = client.get(f"/api/runs/{world.kickoff}").json()
    assert (run["status"], run["outcome"]) == ("awaiting_approval", "awaiting_approval")
    assert run["outcome_message"] == "waiting for the kickoff slot"
    assert run["state_summary"] == {"slots": 3}
    assert run["steps"] == ["propose_slots"]
    (approval,) = run["approvals"]
    assert datetime.fromisoformat(approval.pop("due_at")) == DUE_AT
    assert approval == {
        "id": world.approval_id,
        "kind": "kickoff",
        "status": "pending",
        "approver_role": "account_manager",
    }
    assert [e["status"] for e in run["events"]] == ["awaiting_approval"]


def test_detail_of_a_failed_run_with_two_events(client: TestClient, world: World) -> None:
    run = client.get(f"/api/runs/{world.procurement}").json()
    assert (run["status"], run["error"]) == ("failed", "budget unknown")
    assert [(e["id"], e["property_name"], e["status"]) for e in run["events"]] == [
        (world.envelopes["amount"], "amount", "failed"),
        (world.envelopes["currency"], "deal_currency_code", "failed"),
    ]
    (attempt,) = run["attempts"]
    assert (attempt["status"], attempt["error"]) == ("failed", "budget unknown")


def test_detail_of_a_requested_run(client: TestClient, world: World) -> None:
    run = client.get(f"/api/runs/{world.late_contact}").json()
    assert run["status"] == "requested"
    assert run["dagster_run_id"] is None and run["dagster_url"] is None
    assert run["attempts"] == [] and run["exceptions"] == [] and run["approvals"] == []
    assert run["steps"] == [] and run["state_summary"] is None
    assert [(e["id"], e["property_name"], e["status"]) for e in run["events"]] == [
        (world.envelopes["jobtitle"], "jobtitle", "dispatched")
    ]


def test_unknown_run_is_404(client: TestClient, world: World) -> None:
    missing = client.get("/api/runs/999")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "no workflow run with id 999",
    }


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/runs?status=done", "query.status"),
        ("/api/runs?limit=0", "query.limit"),
        ("/api/runs?limit=501", "query.limit"),
        ("/api/runs?before_id=0", "query.before_id"),
        ("/api/runs?envelope_id=x", "query.envelope_id"),
        ("/api/runs?requested_from=yesterday", "query.requested_from"),
        ("/api/runs/abc", "path.workflow_run_id"),
        ("/api/runs/0", "path.workflow_run_id"),
    ],
)
def test_bad_parameters_name_the_field(client: TestClient, path: str, field: str) -> None:
    response = client.get(path)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [d["field"] for d in error["details"]] == [field]
