"""GET /api/exceptions/open (filters, pages) and PATCH /api/exceptions/{id}/resolve (the note,
who resolved it, idempotent retries, conflicts), on exceptions opened by the write helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records import runs
from orchestrator_core.records.dispatch import dispatch_received
from orchestrator_core.records.exceptions import NewException, open_exception
from tests.conftest import JWT_SECRET, WEBHOOK_SECRET
from tests.support import (
    PORTAL_ID,
    hubspot_event,
    post_delivery,
    signed_in,
)

DANA = "dana@harborlabs.example"


@pytest.fixture(autouse=True)
def dana(client: TestClient, db: psycopg.Connection[Any]) -> dict[str, str]:
    """Dana, an operator: every request here is hers unless it sends another token."""
    headers = signed_in(db, DANA, "operator", secret=JWT_SECRET)
    client.headers.update(headers)
    return headers


def someone(db: psycopg.Connection[Any], name: str, role: str = "operator") -> dict[str, str]:
    """Another user's Authorization header."""
    return signed_in(db, f"{name}@harborlabs.example", role, secret=JWT_SECRET)


@dataclass
class World:
    company_run: int
    contact_run: int
    company_envelope: int
    connector: int  # connector_permanent on the company run
    title: int  # data_quality on the contact run, raised twice
    domain: int  # data_quality on the company run, no Dagster run recorded
    budget: int  # budget_overrun without a run

    @property
    def newest_first(self) -> list[int]:
        return [self.budget, self.domain, self.title, self.connector]


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
    events = [
        hubspot_event("company.creation", objectId=9001),
        hubspot_event("contact.creation", objectId=7001),
    ]
    company_envelope = post_delivery(client, events, WEBHOOK_SECRET)[0]
    dispatch_received(db, policy, limit=100)
    run_ids = dict(db.execute("SELECT workflow, id FROM orchestrator.workflow_runs").fetchall())
    company = runs.begin_attempt(
        db,
        workflow_run_id=run_ids["company_intake"],
        dagster_run_id="dg-a1",
        job_name="company_intake",
        kind="start",
    )
    contact = runs.begin_attempt(
        db,
        workflow_run_id=run_ids["contact_role_mapping"],
        dagster_run_id="dg-b1",
        job_name="contact_role_mapping",
        kind="start",
    )
    connector = open_exception(
        db,
        NewException(
            kind="connector_permanent",
            severity="error",
            message="hubspot update failed: HTTP 400",
            suggested_fix="correct the record in HubSpot, then re-execute the run",
            step="write_hubspot",
            details={"vendor": "hubspot", "status": 400},
        ),
        run=company,
        dagster_run_id="dg-a1",
    )
    title = NewException(
        kind="data_quality",
        severity="warning",
        message="ambiguous job title",
        key="jobtitle",
        details={"field": "jobtitle", "value": "Head of Stuff"},
    )
    first_title = open_exception(db, title, run=contact, dagster_run_id="dg-b1")
    domain = open_exception(
        db,
        NewException(kind="data_quality", severity="warning", message="no domain", key="domain"),
        run=company,
    )
    budget = open_exception(
        db,
        NewException(kind="budget_overrun", severity="critical", message="cost centre over"),
        run=None,
    )
    # The same problem raised again counts an occurrence.
    assert open_exception(db, title, run=contact, dagster_run_id="dg-b1")["id"] == first_title["id"]
    return World(
        company_run=company.id,
        contact_run=contact.id,
        company_envelope=company_envelope,
        connector=connector["id"],
        title=first_title["id"],
        domain=domain["id"],
        budget=budget["id"],
    )


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def stored(db: psycopg.Connection[Any], exception_id: int) -> dict[str, Any]:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT status, resolved_at, resolved_by, resolution_note"
            " FROM orchestrator.exceptions WHERE id = %s",
            (exception_id,),
        ).fetchone()
    assert row is not None
    return row


def resolve(
    client: TestClient, exception_id: int, body: Any, headers: dict[str, str] | None = None
) -> Any:
    """As Dana unless `headers` say otherwise."""
    return client.patch(f"/api/exceptions/{exception_id}/resolve", json=body, headers=headers)


def test_open_list_newest_first_with_every_field(client: TestClient, world: World) -> None:
    page = client.get("/api/exceptions/open").json()
    assert [i["id"] for i in page["items"]] == world.newest_first
    assert page["next_cursor"] is None
    by_id = {item["id"]: item for item in page["items"]}

    connector = by_id[world.connector]
    assert connector["kind"] == "connector_permanent"
    assert (connector["severity"], connector["status"]) == ("error", "open")
    assert connector["message"] == "hubspot update failed: HTTP 400"
    assert connector["suggested_fix"] == "correct the record in HubSpot, then re-execute the run"
    assert connector["workflow"] == "company_intake"
    assert connector["workflow_run_id"] == world.company_run
    assert connector["dagster_run_id"] == "dg-a1"
    assert connector["dagster_url"] == "https://dagster.ops.example/runs/dg-a1"
    assert connector["step"] == "write_hubspot"
    assert connector["envelope_ids"] == [world.company_envelope]
    assert (connector["portal_id"], connector["object_type"], connector["object_id"]) == (
        PORTAL_ID,
        "company",
        9001,
    )
    assert connector["details"] == {"vendor": "hubspot", "status": 400}
    assert connector["occurrences"] == 1
    assert connector["opened_at"] and connector["last_seen_at"]
    assert connector["resolved_at"] is None and connector["resolved_by"] is None

    title = by_id[world.title]
    assert title["occurrences"] == 2
    assert title["workflow_run_id"] == world.contact_run
    assert title["details"] == {"field": "jobtitle", "value": "Head of Stuff"}
    assert by_id[world.domain]["dagster_run_id"] is None
    assert by_id[world.domain]["dagster_url"] is None
    orphan = by_id[world.budget]
    assert orphan["workflow_run_id"] is None and orphan["envelope_ids"] == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "data_quality"}, ["domain", "title"]),
        ({"workflow": "company_intake"}, ["domain", "connector"]),
        ({"kind": "data_quality", "workflow": "contact_role_mapping"}, ["title"]),
        ({"kind": "nothing_like_it"}, []),
    ],
)
def test_filters(
    client: TestClient, world: World, params: dict[str, Any], expected: list[str]
) -> None:
    assert ids(client.get("/api/exceptions/open", params=params)) == [
        getattr(world, name) for name in expected
    ]


def test_pages_with_a_cursor(client: TestClient, world: World) -> None:
    first = client.get("/api/exceptions/open", params={"limit": 3}).json()
    assert [i["id"] for i in first["items"]] == world.newest_first[:3]
    assert first["next_cursor"] == world.newest_first[2]
    rest = client.get(
        "/api/exceptions/open", params={"limit": 3, "before_id": first["next_cursor"]}
    ).json()
    assert [i["id"] for i in rest["items"]] == world.newest_first[3:]
    assert rest["next_cursor"] is None
    assert client.get("/api/exceptions/open", params={"limit": 4}).json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/exceptions/open?limit=0", "query.limit"),
        ("/api/exceptions/open?limit=501", "query.limit"),
        ("/api/exceptions/open?before_id=x", "query.before_id"),
    ],
)
def test_bad_list_parameters_name_the_field(client: TestClient, path: str, field: str) -> None:
    response = client.get(path)
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_resolve_records_who_when_and_the_note(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    response = resolve(
        client,
        world.connector,
        {"note": "  Fixed the domain in HubSpot; re-executed.  "},
        headers=someone(db, "ada", "admin"),  # admins resolve too
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == world.connector
    assert body["status"] == "resolved"
    assert body["resolved_by"] == "user:ada@harborlabs.example"
    assert body["resolution_note"] == "Fixed the domain in HubSpot; re-executed."
    assert body["dagster_url"] == "https://dagster.ops.example/runs/dg-a1"
    resolved_at = datetime.fromisoformat(body["resolved_at"])
    assert before <= resolved_at <= datetime.now(UTC) + timedelta(seconds=5)

    row = stored(db, world.connector)
    assert row["status"] == "resolved"
    assert row["resolved_at"] == resolved_at
    assert row["resolved_by"] == "user:ada@harborlabs.example"
    assert row["resolution_note"] == "Fixed the domain in HubSpot; re-executed."

    # Gone from the open list (and its filters); the run shows it resolved.
    assert ids(client.get("/api/exceptions/open")) == [world.budget, world.domain, world.title]
    assert ids(client.get("/api/exceptions/open", params={"workflow": "company_intake"})) == [
        world.domain
    ]
    run = client.get(f"/api/runs/{world.company_run}").json()
    assert {e["id"]: e["status"] for e in run["exceptions"]} == {
        world.connector: "resolved",
        world.domain: "open",
    }


def test_resolving_again_with_the_same_note_answers_the_same_row(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    first = resolve(client, world.title, {"note": "title mapped by hand"})
    assert first.status_code == 200, first.text
    # A retried request (even by someone else, even with other spacing) changes nothing.
    again = resolve(
        client,
        world.title,
        {"note": "title mapped by hand "},
        headers=someone(db, "otto"),
    )
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.json()["resolved_by"] == f"user:{DANA}"
    assert stored(db, world.title)["resolved_by"] == f"user:{DANA}"


def test_a_different_note_on_a_resolved_exception_conflicts(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    first = resolve(client, world.title, {"note": "title mapped by hand"})
    assert first.status_code == 200, first.text
    conflict = resolve(client, world.title, {"note": "something else"}, headers=someone(db, "eve"))
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert error["code"] == "already_resolved"
    assert str(world.title) in error["message"]
    assert error["details"]["resolution_note"] == "title mapped by hand"
    assert error["details"]["resolved_by"] == f"user:{DANA}"
    row = stored(db, world.title)
    assert row["resolution_note"] == "title mapped by hand"
    assert row["resolved_by"] == f"user:{DANA}"


def test_unknown_exception_is_404(client: TestClient, world: World) -> None:
    response = resolve(client, 999, {"note": "fixed"})
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "no exception with id 999"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"note": ""}, "body.note"),
        ({"note": "   \n\t "}, "body.note"),
        ({"note": "x" * 2001}, "body.note"),
        ({"note": None}, "body.note"),
        ({}, "body.note"),
        ({"note": "fixed", "resolved_by": "mallory"}, "body.resolved_by"),
        (None, "body"),
    ],
)
def test_the_note_is_required_and_bounded(
    client: TestClient, world: World, db: psycopg.Connection[Any], body: Any, field: str
) -> None:
    response = resolve(client, world.connector, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [d["field"] for d in error["details"]] == [field]
    assert stored(db, world.connector)["status"] == "open"


def test_a_note_of_2000_characters_is_accepted(client: TestClient, world: World) -> None:
    response = resolve(client, world.connector, {"note": "n" * 2000})
    assert response.status_code == 200, response.text
    assert response.json()["resolution_note"] == "n" * 2000


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("nobody", 401, "unauthenticated"),
        ("bad-token", 401, "invalid_token"),
        ("viewer", 403, "forbidden"),
    ],
)
def test_resolving_needs_an_operator(
    client: TestClient,
    world: World,
    db: psycopg.Connection[Any],
    dana: dict[str, str],
    who: str,
    status: int,
    code: str,
) -> None:
    headers = {
        "nobody": {},
        "bad-token": {"Authorization": "Bearer not-a-token"},
        "viewer": someone(db, "vic", "viewer"),
    }[who]
    audited = exception_audit(db, world.connector)
    del client.headers["Authorization"]
    response = resolve(client, world.connector, {"note": "fixed"}, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert stored(db, world.connector)["status"] == "open"
    assert world.connector in ids(client.get("/api/exceptions/open", headers=dana))
    assert exception_audit(db, world.connector) == audited


def exception_audit(db: psycopg.Connection[Any], exception_id: int) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT actor, action, entity_type, entity_id, before, after"
            " FROM orchestrator.audit_log WHERE entity_type = 'exception' AND entity_id = %s"
            " ORDER BY id",
            (str(exception_id),),
        ).fetchall()


def test_resolving_appends_one_audit_row(
    client: TestClient, world: World, db: psycopg.Connection[Any]
) -> None:
    opened = exception_audit(db, world.connector)  # what opening it wrote, if anything
    response = resolve(client, world.connector, {"note": " Fixed the domain in HubSpot. "})
    assert response.status_code == 200, response.text
    assert exception_audit(db, world.connector)[len(opened) :] == [
        {
            "actor": f"user:{DANA}",
            "action": "exception.resolved",
            "entity_type": "exception",
            "entity_id": str(world.connector),
            "before": {"status": "open", "resolution_note": None},
            "after": {"status": "resolved", "resolution_note": "Fixed the domain in HubSpot."},
        }
    ]
    # A retried request changes nothing, a conflicting one neither: still one row.
    assert resolve(client, world.connector, {"note": "Fixed the domain in HubSpot."}).is_success
    assert resolve(client, world.connector, {"note": "other"}).status_code == 409
    assert len(exception_audit(db, world.connector)) == len(opened) + 1
    # Nothing for the exceptions nobody resolved.
    assert "exception.resolved" not in [row["action"] for row in exception_audit(db, world.title)]
