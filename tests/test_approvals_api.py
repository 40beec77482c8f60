"""GET /api/approvals/pending (oldest first, filters, pages), GET /api/approvals/{id} (the
decision, the parked and the continuation run) and PATCH /api/approvals/{id}/decision (the
decision stored and audited, idempotent retries, each refusal of the rules once as its HTTP
status and error body), on approvals written by the product's own helpers.

The rules' branches (every role, four-eyes, state, due-time and edit case) are unit-tested in
test_approval_rules.py. Tests that only read the parked approvals, or whose requests are refused
before anything changes, share one parked world per class (`SharedWorld`)."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from ingest_api.app import create_app
from orchestrator_core.policy import LoadedPolicy, policy_snapshot
from orchestrator_core.records import runs
from orchestrator_core.records.approvals import (
    Approval,
    ApprovalRequest,
    continuations_due,
    escalate_due,
    expire_overdue,
    mark_continuation,
    request_approval,
)
from orchestrator_core.records.dispatch import dispatch_received
from tests.conftest import (
    JWT_SECRET,
    WEBHOOK_SECRET,
    empty_tables,
    make_settings,
    settings_url,
)
from tests.support import (
    PORTAL_ID,
    dagster_link,
    hubspot_event,
    post_delivery,
    signed_in,
    workflow_run_id,
)

RAISER = "hubspot:userId:45678"
RAISER_EMAIL = "Sam.Sales@HarborLabs.example"
# The product's users here: name → role (their email is <name>@harborlabs.example).
PEOPLE = {"olive": "operator", "otto": "operator", "ada": "admin", "vic": "viewer"}
OLIVE = "user:olive@harborlabs.example"
ADA = "user:ada@harborlabs.example"

SLOTS = [
    {
        "index": i,
        "start": f"2026-12-0{3 + i}T10:00:00+01:00",
        "end": f"2026-12-0{3 + i}T11:00:00+01:00",
        "label": f"Dec {3 + i}, 10:00",
    }
    for i in range(3)
]


def sign_in(client: TestClient, db: psycopg.Connection[Any]) -> dict[str, dict[str, str]]:
    """Each person's Authorization header; the client's requests are Olive's (an operator)
    unless they send another."""
    headers = {
        name: signed_in(db, f"{name}@harborlabs.example", role, secret=JWT_SECRET)
        for name, role in PEOPLE.items()
    }
    client.headers.update(headers["olive"])
    return headers


@pytest.fixture(autouse=True)
def people(client: TestClient, db: psycopg.Connection[Any]) -> dict[str, dict[str, str]]:
    return sign_in(client, db)


def kickoff_request(
    snapshot: dict[str, Any], due_at: datetime, *, reason: str = "kickoff slots need a choice"
) -> ApprovalRequest:
    return ApprovalRequest(
        kind="kickoff",
        proposal={"title": "Kickoff: Acme GmbH", "slots": SLOTS, "required": True},
        reason=reason,
        policy_snapshot=snapshot,
        approver_role="operator",
        due_at=due_at,
        requested_by=RAISER,
        requested_by_email=RAISER_EMAIL,
    )


@dataclass
class World:
    """Three pending approvals, oldest first: the kickoff of deal 5001 (operator), the
    procurement of deal 5001 (admin, escalated), the kickoff of deal 5002 (operator, under an
    edited policy). Each run parked on its first Dagster run."""

    kickoff_run: int
    procurement_run: int
    second_kickoff_run: int
    kickoff: int
    procurement: int
    second_kickoff: int
    due_at: datetime
    snapshots: dict[str, dict[str, Any]]

    @property
    def oldest_first(self) -> list[int]:
        return [self.kickoff, self.procurement, self.second_kickoff]


def park_with_approval(
    db: psycopg.Connection[Any],
    workflow_run_id: int,
    dagster_run_id: str,
    request: ApprovalRequest,
    interrupt_id: str = "ask_approval",
) -> Approval:
    """What the runner does when a graph interrupts: the approval, then the run parks."""
    runs.begin_attempt(
        db,
        workflow_run_id=workflow_run_id,
        dagster_run_id=dagster_run_id,
        job_name="test_job",
        kind="start",
    )
    run = runs.get_run(db, workflow_run_id)
    assert run is not None
    approval = request_approval(
        db, run=run, interrupt_id=interrupt_id, request=request, dagster_run_id=dagster_run_id
    )
    runs.park(
        db,
        workflow_run_id=workflow_run_id,
        dagster_run_id=dagster_run_id,
        state_summary={"approval_id": approval.id},
        message=f"waiting for the {request.kind} approval",
    )
    return approval


def park_three(client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
    events = [
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="dealstage"),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="amount"),
        hubspot_event("deal.propertyChange", objectId=5002, propertyName="dealstage"),
    ]
    post_delivery(client, events, WEBHOOK_SECRET)
    assert dispatch_received(db, policy, limit=100).runs_created == 3
    kickoff_run = workflow_run_id(db, "deal_kickoff", 5001)
    procurement_run = workflow_run_id(db, "procurement_approval", 5001)
    second_kickoff_run = workflow_run_id(db, "deal_kickoff", 5002)

    due_at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    kickoff_snapshot = policy_snapshot(policy, sections=["deal_kickoff", "approvals"])
    procurement_snapshot = policy_snapshot(policy, sections=["procurement", "approvals"])
    # The policy was edited before the second kickoff: another version, other rules.
    edited: dict[str, Any] = copy.deepcopy(kickoff_snapshot)
    edited["version"] = "edited-version"
    edited["content_hash"] = "e" * 64
    edited["sections"]["deal_kickoff"]["approval"]["due_hours"] = 4

    kickoff = park_with_approval(
        db, kickoff_run, "dg-k1", kickoff_request(kickoff_snapshot, due_at)
    )
    procurement = park_with_approval(
        db,
        procurement_run,
        "dg-p1",
        ApprovalRequest(
            kind="procurement",
            proposal={
                "request_id": "PR-5001",
                "vendor": "Acme GmbH",
                "amount": "75000.00",
                "currency": "EUR",
            },
            reason="75,000.00 EUR is at or above the 50,000 EUR procurement threshold",
            policy_snapshot=procurement_snapshot,
            approver_role="admin",
            due_at=due_at,
            requested_by=RAISER,
            requested_by_email=RAISER_EMAIL,
        ),
    )
    second = park_with_approval(db, second_kickoff_run, "dg-k2", kickoff_request(edited, due_at))
    # The procurement approval is within its escalation lead.
    (escalated,) = escalate_due(
        db, lead_by_kind={"procurement": timedelta(days=2)}, now=datetime.now(UTC)
    )
    assert escalated.id == procurement.id
    return World(
        kickoff_run=kickoff_run,
        procurement_run=procurement_run,
        second_kickoff_run=second_kickoff_run,
        kickoff=kickoff.id,
        procurement=procurement.id,
        second_kickoff=second.id,
        due_at=due_at,
        snapshots={
            "kickoff": kickoff_snapshot,
            "procurement": procurement_snapshot,
            "edited": edited,
        },
    )


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
    return park_three(client, db, policy)


class SharedWorld:
    """One emptied database, app, sign-ins and `World` for all the tests of a class, instead of
    one each. Only for tests that read, or send requests refused before anything changes:
    after each test the approvals and the audit log must be as they were, or it errors."""

    @pytest.fixture(scope="class")
    @classmethod
    def db(cls, database_url: str) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(database_url, autocommit=True) as conn:
            empty_tables(conn)
            yield conn

    @pytest.fixture(scope="class")
    @classmethod
    def client(cls, db: psycopg.Connection[Any], database_url: str) -> Iterator[TestClient]:
        settings = make_settings(database_url)
        with TestClient(create_app(settings, settings_url(settings))) as test_client:
            yield test_client

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def people(cls, client: TestClient, db: psycopg.Connection[Any]) -> dict[str, dict[str, str]]:
        return sign_in(client, db)

    @pytest.fixture(scope="class")
    @classmethod
    def world(cls, client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
        return park_three(client, db, policy)

    @pytest.fixture(autouse=True)
    def unchanged(self, db: psycopg.Connection[Any], world: World) -> Iterator[None]:
        before = shared_state(db)
        yield
        assert shared_state(db) == before, "a test on the shared world changed it"


def shared_state(db: psycopg.Connection[Any]) -> list[Any]:
    approvals = db.execute(
        "SELECT id, status, decision, edits, updated_at FROM orchestrator.approvals ORDER BY id"
    ).fetchall()
    audit = db.execute("SELECT count(*) FROM orchestrator.audit_log").fetchall()
    return [approvals, audit]


def overdue_approval(db: psycopg.Connection[Any], world: World) -> int:
    """A pending approval past its due time (the schedule has not expired it yet)."""
    due = datetime.now(UTC) - timedelta(minutes=5)
    run = runs.get_run(db, world.second_kickoff_run)
    assert run is not None
    approval = request_approval(
        db,
        run=run,
        interrupt_id="ask_approval_again",
        request=kickoff_request(world.snapshots["kickoff"], due),
        dagster_run_id="dg-k2",
    )
    return approval.id


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def decide(
    client: TestClient, approval_id: int, body: Any, headers: dict[str, str] | None = None
) -> Any:
    """As Olive unless `headers` say otherwise."""
    return client.patch(f"/api/approvals/{approval_id}/decision", json=body, headers=headers)


def stored(db: psycopg.Connection[Any], approval_id: int) -> dict[str, Any]:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT status, decision, decided_by, decided_at, decision_note, edits"
            " FROM orchestrator.approvals WHERE id = %s",
            (approval_id,),
        ).fetchone()
    assert row is not None
    return row


def audit_rows(
    db: psycopg.Connection[Any], entity_type: str, entity_id: int
) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT actor, action, before, after, policy_version FROM orchestrator.audit_log"
            " WHERE entity_type = %s AND entity_id = %s ORDER BY id",
            (entity_type, str(entity_id)),
        ).fetchall()


def actions(db: psycopg.Connection[Any], approval_id: int) -> list[str]:
    return [row["action"] for row in audit_rows(db, "approval", approval_id)]


def without_age(body: dict[str, Any]) -> dict[str, Any]:
    """The approval minus its age, which grows between two reads."""
    return {key: value for key, value in body.items() if key != "age_seconds"}


# -- the queue ------------------------------------------------------------------------------


class TestQueue(SharedWorld):
    def test_pending_queue_oldest_first_with_every_field(
        self, client: TestClient, world: World, policy: LoadedPolicy
    ) -> None:
        page = client.get("/api/approvals/pending").json()
        assert [item["id"] for item in page["items"]] == world.oldest_first
        assert page["next_cursor"] is None
        by_id = {item["id"]: item for item in page["items"]}

        kickoff = by_id[world.kickoff]
        assert kickoff["kind"] == "kickoff"
        assert kickoff["status"] == "pending"
        assert kickoff["workflow"] == "deal_kickoff"
        assert kickoff["workflow_run_id"] == world.kickoff_run
        assert (kickoff["portal_id"], kickoff["object_type"], kickoff["object_id"]) == (
            PORTAL_ID,
            "deal",
            5001,
        )
        assert kickoff["proposal"] == {
            "title": "Kickoff: Acme GmbH",
            "slots": SLOTS,
            "required": True,
        }
        assert kickoff["reason"] == "kickoff slots need a choice"
        assert kickoff["policy_snapshot"] == world.snapshots["kickoff"]
        assert kickoff["policy_version"] == policy.version
        assert kickoff["policy_hash"] == policy.content_hash
        assert kickoff["approver_role"] == "operator"
        assert kickoff["requested_by"] == RAISER
        assert kickoff["requested_by_email"] == RAISER_EMAIL
        assert datetime.fromisoformat(kickoff["due_at"]) == world.due_at
        assert kickoff["escalated_at"] is None
        assert isinstance(kickoff["age_seconds"], int)
        assert 0 <= kickoff["age_seconds"] < 600
        assert datetime.fromisoformat(kickoff["created_at"]) <= datetime.now(UTC)

        procurement = by_id[world.procurement]
        assert (procurement["kind"], procurement["workflow"]) == (
            "procurement",
            "procurement_approval",
        )
        assert procurement["approver_role"] == "admin"
        assert procurement["proposal"]["amount"] == "75000.00"
        assert procurement["reason"].startswith("75,000.00 EUR is at or above")
        assert procurement["policy_snapshot"] == world.snapshots["procurement"]
        assert procurement["escalated_at"] is not None

        second = by_id[world.second_kickoff]
        assert second["object_id"] == 5002
        assert (second["policy_version"], second["policy_hash"]) == ("edited-version", "e" * 64)
        # Oldest first: nobody is younger than a later request.
        ages = [item["age_seconds"] for item in page["items"]]
        assert ages == sorted(ages, reverse=True)

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"workflow": "deal_kickoff"}, ["kickoff", "second_kickoff"]),
            ({"workflow": "procurement_approval"}, ["procurement"]),
            ({"role": "admin"}, ["kickoff", "procurement", "second_kickoff"]),
            ({"role": "operator"}, ["kickoff", "second_kickoff"]),
            ({"role": "viewer"}, []),
            ({"workflow": "procurement_approval", "role": "operator"}, []),
            ({"workflow": "deal_kickoff", "role": "admin"}, ["kickoff", "second_kickoff"]),
            ({"workflow": "no_such_workflow"}, []),
        ],
    )
    def test_filters(
        self, client: TestClient, world: World, params: dict[str, Any], expected: list[str]
    ) -> None:
        assert ids(client.get("/api/approvals/pending", params=params)) == [
            getattr(world, name) for name in expected
        ]

    def test_pages_with_a_cursor(self, client: TestClient, world: World) -> None:
        first = client.get("/api/approvals/pending", params={"limit": 2}).json()
        assert [i["id"] for i in first["items"]] == world.oldest_first[:2]
        assert first["next_cursor"] == world.oldest_first[1]
        rest = client.get(
            "/api/approvals/pending", params={"limit": 2, "after_id": first["next_cursor"]}
        ).json()
        assert [i["id"] for i in rest["items"]] == world.oldest_first[2:]
        assert rest["next_cursor"] is None
        assert (
            client.get("/api/approvals/pending", params={"limit": 3}).json()["next_cursor"] is None
        )
        by_role = client.get(
            "/api/approvals/pending", params={"limit": 1, "role": "operator"}
        ).json()
        assert [i["id"] for i in by_role["items"]] == [world.kickoff]
        assert ids(
            client.get(
                "/api/approvals/pending",
                params={"limit": 1, "role": "operator", "after_id": by_role["next_cursor"]},
            )
        ) == [world.second_kickoff]

    @pytest.mark.parametrize(
        ("path", "field"),
        [
            ("/api/approvals/pending?limit=0", "query.limit"),
            ("/api/approvals/pending?limit=501", "query.limit"),
            ("/api/approvals/pending?after_id=0", "query.after_id"),
            ("/api/approvals/pending?after_id=x", "query.after_id"),
            ("/api/approvals/pending?role=owner", "query.role"),
            ("/api/approvals/abc", "path.approval_id"),
            ("/api/approvals/0", "path.approval_id"),
        ],
    )
    def test_bad_parameters_name_the_field(self, client: TestClient, path: str, field: str) -> None:
        response = client.get(path)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert [d["field"] for d in error["details"]] == [field]


def test_decided_and_expired_approvals_leave_the_queue(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    assert decide(client, world.kickoff, {"decision": "approve"}).status_code == 200
    overdue = overdue_approval(db, world)
    assert ids(client.get("/api/approvals/pending")) == [
        world.procurement,
        world.second_kickoff,
        overdue,
    ]
    (expired,) = expire_overdue(db, now=datetime.now(UTC))
    assert expired.id == overdue
    assert ids(client.get("/api/approvals/pending")) == [world.procurement, world.second_kickoff]
    # Expired by the schedule, it can no longer be decided.
    response = decide(client, overdue, {"decision": "approve"})
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "already_decided"
    assert "expired" in error["message"]
    body = client.get(f"/api/approvals/{overdue}").json()
    assert (body["status"], body["decided_by"]) == ("expired", "schedule")
    assert actions(db, overdue) == ["approval.requested", "approval.expired"]


# -- one approval ---------------------------------------------------------------------------


class TestOneApproval(SharedWorld):
    def test_detail_of_a_parked_approval(self, client: TestClient, world: World) -> None:
        response = client.get(f"/api/approvals/{world.kickoff}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == world.kickoff
        assert body["status"] == "pending"
        assert body["policy_snapshot"] == world.snapshots["kickoff"]
        assert body["decided_by"] is None and body["decided_at"] is None
        assert body["decision_note"] is None and body["edits"] is None
        # The Dagster run that parked (its attempt ended when the graph parked).
        assert body["requested_run"] == {
            "dagster_run_id": "dg-k1",
            "dagster_url": dagster_link("dg-k1"),
            "status": "succeeded",
        }
        assert body["continuation_run"] is None
        assert body["continuation_requested_at"] is None
        assert body["workflow_run"] == {
            "id": world.kickoff_run,
            "status": "awaiting_approval",
            "outcome": "awaiting_approval",
            "outcome_message": "waiting for the kickoff approval",
        }
        # The queue's fields, the same.
        (queued,) = [
            item
            for item in client.get("/api/approvals/pending").json()["items"]
            if item["id"] == world.kickoff
        ]
        assert {k: v for k, v in without_age(body).items() if k in queued} == without_age(queued)

    def test_the_policy_snapshot_is_the_one_stored_at_request_time(
        self, client: TestClient, world: World, db: psycopg.Connection[Any], policy: LoadedPolicy
    ) -> None:
        # Asking again for the same interrupt with another snapshot changes nothing ...
        run = runs.get_run(db, world.kickoff_run)
        assert run is not None
        again = request_approval(
            db,
            run=run,
            interrupt_id="ask_approval",
            request=kickoff_request(world.snapshots["edited"], world.due_at),
            dagster_run_id="dg-k1",
        )
        assert again.id == world.kickoff
        body = client.get(f"/api/approvals/{world.kickoff}").json()
        assert body["policy_snapshot"] == world.snapshots["kickoff"]
        assert (body["policy_version"], body["policy_hash"]) == (
            policy.version,
            policy.content_hash,
        )
        # ... and the later approval under the edited policy keeps its own.
        later = client.get(f"/api/approvals/{world.second_kickoff}").json()
        assert later["policy_snapshot"] == world.snapshots["edited"]
        assert later["policy_snapshot"]["sections"]["deal_kickoff"]["approval"]["due_hours"] == 4
        assert body["policy_snapshot"]["sections"]["deal_kickoff"]["approval"]["due_hours"] == 24

    def test_unknown_approval_is_404(self, client: TestClient, world: World) -> None:
        missing = client.get("/api/approvals/999")
        assert missing.status_code == 404
        assert missing.json()["error"] == {
            "code": "not_found",
            "message": "no approval with id 999",
        }
        refused = decide(client, 999, {"decision": "approve"})
        assert refused.status_code == 404
        assert refused.json()["error"] == {
            "code": "not_found",
            "message": "no approval with id 999",
        }


def test_detail_follows_the_continuation_run(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    assert decide(client, world.kickoff, {"decision": "approve"}).status_code == 200
    # The approval sensor asks for the continuation; the run takes it when it starts.
    (due,) = continuations_due(db, limit=10, again_after_seconds=300)
    assert due.id == world.kickoff
    mark_continuation(db, world.kickoff, "dg-k1-continue")
    body = client.get(f"/api/approvals/{world.kickoff}").json()
    assert body["continuation_requested_at"] is not None
    assert body["continuation_run"] == {
        "dagster_run_id": "dg-k1-continue",
        "dagster_url": dagster_link("dg-k1-continue"),
        "status": None,  # marked, but no attempt recorded yet
    }

    runs.begin_attempt(
        db,
        workflow_run_id=world.kickoff_run,
        dagster_run_id="dg-k1-continue",
        job_name="deal_kickoff_continuation",
        kind="continuation",
    )
    body = client.get(f"/api/approvals/{world.kickoff}").json()
    assert body["continuation_run"]["status"] == "running"
    assert body["workflow_run"]["status"] == "running"
    assert body["requested_run"]["status"] == "succeeded"

    runs.finish(
        db,
        workflow_run_id=world.kickoff_run,
        dagster_run_id="dg-k1-continue",
        outcome="scheduled",
        message="Kickoff: Acme GmbH scheduled",
        state_summary={"event": "ev-1"},
    )
    body = client.get(f"/api/approvals/{world.kickoff}").json()
    assert body["continuation_run"]["status"] == "succeeded"
    assert body["workflow_run"] == {
        "id": world.kickoff_run,
        "status": "succeeded",
        "outcome": "scheduled",
        "outcome_message": "Kickoff: Acme GmbH scheduled",
    }


# -- deciding -------------------------------------------------------------------------------


def test_approve_records_the_decision_and_one_audit_row(
    client: TestClient, world: World, db: psycopg.Connection[Any], policy: LoadedPolicy
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    response = decide(
        client,
        world.kickoff,
        {
            "decision": "approve",
            "note": "  Thursday suits the customer.  ",
            "edits": {"slot_index": 2},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == world.kickoff
    assert body["status"] == "approved"
    assert body["decided_by"] == OLIVE
    assert body["decision_note"] == "Thursday suits the customer."
    assert body["edits"] == {"slot_index": 2}
    decided_at = datetime.fromisoformat(body["decided_at"])
    assert before <= decided_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert body["requested_run"]["dagster_run_id"] == "dg-k1"
    assert body["workflow_run"]["status"] == "awaiting_approval"  # until the continuation runs

    row = stored(db, world.kickoff)
    assert row["status"] == "approved"
    assert row["decided_by"] == OLIVE
    assert row["decided_at"] == decided_at
    assert row["decision_note"] == "Thursday suits the customer."
    assert row["edits"] == {"slot_index": 2}
    assert row["decision"] == {
        "decision": "approve",
        "note": "Thursday suits the customer.",
        "edits": {"slot_index": 2},
    }

    assert actions(db, world.kickoff) == ["approval.requested", "approval.approved"]
    entry = audit_rows(db, "approval", world.kickoff)[-1]
    assert entry["actor"] == OLIVE
    assert entry["policy_version"] == policy.version
    assert entry["before"]["status"] == "pending"
    assert entry["before"]["decided_by"] is None and entry["before"]["edits"] is None
    assert entry["after"]["status"] == "approved"
    assert entry["after"]["decided_by"] == OLIVE
    assert entry["after"]["decision_note"] == "Thursday suits the customer."
    assert entry["after"]["edits"] == {"slot_index": 2}
    assert entry["after"]["policy_hash"] == policy.content_hash


def test_reject_with_a_note(
    client: TestClient, world: World, db: psycopg.Connection[Any], people: dict[str, Any]
) -> None:
    response = decide(
        client, world.procurement, {"decision": "reject", "note": "not this quarter"}, people["ada"]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["decided_by"]) == ("rejected", ADA)
    assert (body["decision_note"], body["edits"]) == ("not this quarter", {})
    assert stored(db, world.procurement)["decision"] == {
        "decision": "reject",
        "note": "not this quarter",
        "edits": {},
    }
    assert actions(db, world.procurement)[-1] == "approval.rejected"


def test_a_blank_note_is_no_note(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    response = decide(client, world.kickoff, {"decision": "approve", "note": "   "})
    assert response.status_code == 200, response.text
    assert response.json()["decision_note"] is None
    assert stored(db, world.kickoff)["decision_note"] is None


def test_the_same_decision_again_changes_nothing(
    client: TestClient, world: World, db: psycopg.Connection[Any], people: dict[str, Any]
) -> None:
    body = {"decision": "approve", "note": "ok", "edits": {"slot_index": 1}}
    first = decide(client, world.kickoff, body)
    assert first.status_code == 200, first.text
    # A retried request, even by another operator with another note, answers the approval.
    again = decide(
        client,
        world.kickoff,
        {**body, "note": "ok again"},
        people["otto"],
    )
    assert again.status_code == 200, again.text
    assert without_age(again.json()) == without_age(first.json())
    assert again.json()["decided_by"] == OLIVE
    assert stored(db, world.kickoff)["decision_note"] == "ok"
    assert actions(db, world.kickoff) == ["approval.requested", "approval.approved"]


def test_a_conflicting_decision_is_409(
    client: TestClient, world: World, db: psycopg.Connection[Any], people: dict[str, Any]
) -> None:
    first = decide(client, world.kickoff, {"decision": "approve", "edits": {"slot_index": 1}})
    assert first.status_code == 200, first.text
    # Ada, an admin, may decide an operator's approval: it is its state that refuses her.
    second = {"decision": "reject", "note": "changed my mind"}
    conflict = decide(client, world.kickoff, second, people["ada"])
    assert conflict.status_code == 409, conflict.text
    error = conflict.json()["error"]
    assert error["code"] == "already_decided"
    assert str(world.kickoff) in error["message"]
    row = stored(db, world.kickoff)
    assert (row["status"], row["edits"]) == ("approved", {"slot_index": 1})
    assert row["decided_by"] == OLIVE
    assert actions(db, world.kickoff) == ["approval.requested", "approval.approved"]


def test_a_role_below_the_approver_role_is_403(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    """Olive, an operator, on the procurement approval that needs an admin. (Viewers never
    reach the rule: the route is for operators and admins, see test_access_matrix.py.)"""
    response = decide(client, world.procurement, {"decision": "approve"})
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert "role" in error["message"]
    assert stored(db, world.procurement)["status"] == "pending"
    assert actions(db, world.procurement)[-1] != "approval.approved"


def test_nobody_decides_their_own_request(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    """The raiser's HubSpot email (stored as Sam.Sales@HarborLabs.example) is the product
    account's email, in whatever case."""
    headers = signed_in(db, "sam.sales@harborlabs.example", "operator", secret=JWT_SECRET)
    for decision in ("approve", "reject"):
        response = decide(client, world.kickoff, {"decision": decision}, headers)
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["code"] == "four_eyes"
        assert str(world.kickoff) in error["message"]
    assert stored(db, world.kickoff)["status"] == "pending"


def test_every_raiser_is_recorded_and_an_unresolved_one_needs_an_admin(
    client: TestClient,
    db: psycopg.Connection[Any],
    policy: LoadedPolicy,
    people: dict[str, dict[str, str]],
) -> None:
    """A kickoff raised by Sam (resolved) and by HubSpot user 99999, whom HubSpot does not
    name: both are stored, the approval needs an admin, and Sam cannot decide it."""
    event = hubspot_event("deal.propertyChange", objectId=5003, propertyName="dealstage")
    post_delivery(client, [event], WEBHOOK_SECRET)
    assert dispatch_received(db, policy, limit=100).runs_created >= 1
    run_id = workflow_run_id(db, "deal_kickoff", 5003)
    due_at = datetime.now(UTC) + timedelta(days=1)
    snapshot = policy_snapshot(policy, sections=["deal_kickoff", "approvals"])
    both = [
        {"source": RAISER, "email": RAISER_EMAIL},
        {"source": "hubspot:userId:99999", "email": None},
    ]
    request = dataclasses.replace(kickoff_request(snapshot, due_at), raisers=both)
    approval = park_with_approval(db, run_id, "dg-k9", request)

    detail = client.get(f"/api/approvals/{approval.id}").json()
    assert detail["raisers"] == both
    assert detail["approver_role"] == "admin"
    assert detail["reason"].startswith("kickoff slots need a choice ")
    assert "userId:99999" in detail["reason"] and "an admin decides" in detail["reason"]
    (requested,) = db.execute(
        "SELECT after FROM orchestrator.audit_log WHERE action = 'approval.requested'"
        " AND entity_id = %s",
        (str(approval.id),),
    ).fetchall()
    assert requested[0]["raisers"] == both

    olive = decide(client, approval.id, {"decision": "approve"})
    assert olive.status_code == 403 and olive.json()["error"]["code"] == "forbidden"
    sam = signed_in(db, "sam.sales@harborlabs.example", "admin", secret=JWT_SECRET)
    refused = decide(client, approval.id, {"decision": "approve"}, sam)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "four_eyes"
    ada = decide(client, approval.id, {"decision": "approve"}, people["ada"])
    assert ada.status_code == 200, ada.text
    assert stored(db, approval.id)["decided_by"] == ADA


def test_a_pending_approval_past_its_due_time_cannot_be_decided(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    overdue = overdue_approval(db, world)
    for decision in ("approve", "reject"):
        response = decide(client, overdue, {"decision": decision})
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "expired"
    assert stored(db, overdue)["status"] == "pending"
    assert actions(db, overdue) == ["approval.requested"]


@pytest.mark.parametrize(
    ("approval", "person", "edits", "field"),
    [
        ("kickoff", "olive", {"slot_index": 3}, "edits.slot_index"),
        ("procurement", "ada", {"amount": "75000.01"}, "edits.amount"),
    ],
)
def test_edits_outside_the_proposal_are_422_naming_the_field(
    client: TestClient,
    world: World,
    db: psycopg.Connection[Any],
    people: dict[str, Any],
    approval: str,
    person: str,
    edits: dict[str, Any],
    field: str,
) -> None:
    """Bounded by the proposal stored with the approval: its three slots, its amount."""
    approval_id = getattr(world, approval)
    body = {"decision": "approve", "edits": edits}
    response = decide(client, approval_id, body, people[person])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_edits"
    assert error["message"].startswith(f"{field}:")
    assert stored(db, approval_id)["status"] == "pending"


def test_a_lower_amount_is_accepted_and_stored_normalised(
    client: TestClient, world: World, db: psycopg.Connection[Any], people: dict[str, Any]
) -> None:
    ada = people["ada"]
    response = decide(
        client, world.procurement, {"decision": "approve", "edits": {"amount": 60000}}, ada
    )
    assert response.status_code == 200, response.text
    assert response.json()["edits"] == {"amount": "60000"}
    row = stored(db, world.procurement)
    assert row["edits"] == {"amount": "60000"}
    assert row["decision"]["edits"] == {"amount": "60000"}
    assert audit_rows(db, "approval", world.procurement)[-1]["after"]["edits"] == {
        "amount": "60000"
    }
    # The same amount written otherwise is the same decision.
    again = decide(
        client, world.procurement, {"decision": "approve", "edits": {"amount": "60000"}}, ada
    )
    assert again.status_code == 200, again.text
    assert actions(db, world.procurement).count("approval.approved") == 1


class TestBadBodies(SharedWorld):
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"decision": "maybe"}, "body.decision"),
            ({"decision": "APPROVE"}, "body.decision"),
            ({}, "body.decision"),
            ({"decision": "approve", "note": "x" * 2001}, "body.note"),
            ({"decision": "approve", "edits": [1]}, "body.edits"),
            ({"decision": "approve", "decided_by": "mallory"}, "body.decided_by"),
            (None, "body"),
        ],
    )
    def test_a_bad_body_is_422_naming_the_field(
        self, client: TestClient, world: World, db: psycopg.Connection[Any], body: Any, field: str
    ) -> None:
        response = decide(client, world.kickoff, body)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert [d["field"] for d in error["details"]] == [field]
        assert stored(db, world.kickoff)["status"] == "pending"


def test_a_note_of_2000_characters_is_accepted(client: TestClient, world: World) -> None:
    response = decide(client, world.kickoff, {"decision": "reject", "note": "n" * 2000})
    assert response.status_code == 200, response.text
    assert response.json()["decision_note"] == "n" * 2000


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "unauthenticated"),
        ("Bearer not-a-token", "invalid_token"),
        ("olive-disabled", "invalid_token"),
    ],
    ids=["no-token", "bad-token", "disabled-account"],
)
def test_deciding_needs_a_valid_token(
    client: TestClient,
    world: World,
    db: psycopg.Connection[Any],
    people: dict[str, Any],
    token: str | None,
    code: str,
) -> None:
    del client.headers["Authorization"]
    headers = {} if token is None else {"Authorization": token}
    if token == "olive-disabled":  # her token was issued before the account was disabled
        db.execute(
            "UPDATE orchestrator.users SET disabled_at = now() WHERE email = %s",
            ("olive@harborlabs.example",),
        )
        headers = people["olive"]
    response = decide(client, world.kickoff, {"decision": "approve"}, headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == code
    assert stored(db, world.kickoff)["status"] == "pending"
    assert actions(db, world.kickoff) == ["approval.requested"]


def test_the_api_never_imports_dagster_or_langgraph() -> None:
    code = (
        "import sys, ingest_api.app, ingest_api.routes.approvals,"
        " orchestrator_core.queries.approvals;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0]"
        " in ('dagster', 'langgraph', 'orchestrator_defs', 'sensors'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
