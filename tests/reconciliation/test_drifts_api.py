"""GET /api/drifts (filters, paging), GET /api/drifts/{id}, and the repair routes' answers:
404, 409 with the fix to apply, 422 naming what is wrong, and a bulk repair by filter."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.reconciliation import store
from orchestrator_core.reconciliation.causes import LikelyCause
from orchestrator_core.reconciliation.compare import Finding
from orchestrator_core.records.dispatch import dispatch_received
from tests.support import ApiUsers, hubspot_event, ingest_events

DRIFTS = (
    (
        Finding(
            "field_drift",
            "airtable/accounts",
            "airtable",
            "company",
            9001,
            "rec1",
            "City",
            "Seattle",
            "Portland",
        ),
        LikelyCause("hand_edit", "edited by hand", {"change": "edited"}),
    ),
    (
        Finding("missing_downstream", "airtable/contacts", "airtable", "contact", 7001),
        LikelyCause("event_never_received", "no event", {"hubspot_updated_at": None}),
    ),
    (
        Finding("orphan_downstream", "airtable/accounts", "airtable", "company", None, "rec9"),
        LikelyCause("created_downstream", "added by hand"),
    ),
    (
        Finding(
            "missing_downstream",
            "google/calendar_events",
            "google",
            "deal",
            5001,
            details={"approval_id": 1},
        ),
        LikelyCause("unknown", "no explanation found"),
    ),
)


@pytest.fixture
def drift_ids(db: psycopg.Connection[Any]) -> dict[str, int]:
    """The four drifts above, by kind and object, stored as a pass stores them."""
    reconciliation_id = store.begin(db, actor="cli:test")
    store.record_drifts(db, reconciliation_id, list(DRIFTS))
    rows = db.execute("SELECT id, kind, object_type FROM orchestrator.drifts ORDER BY id")
    return {f"{kind}:{object_type}": drift_id for drift_id, kind, object_type in rows}


def ids_of(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_filters_and_paging(
    client: TestClient, as_viewer: ApiUsers, drift_ids: dict[str, int]
) -> None:
    every = sorted(drift_ids.values(), reverse=True)
    assert ids_of(client.get("/api/drifts")) == every
    assert ids_of(client.get("/api/drifts", params={"status": "open"})) == every
    assert ids_of(client.get("/api/drifts", params={"status": "resolved"})) == []
    assert ids_of(client.get("/api/drifts", params={"kind": "field_drift"})) == [
        drift_ids["field_drift:company"]
    ]
    assert ids_of(client.get("/api/drifts", params={"cause": "event_never_received"})) == [
        drift_ids["missing_downstream:contact"]
    ]
    assert ids_of(
        client.get("/api/drifts", params={"object_type": "contact", "object_id": 7001})
    ) == [drift_ids["missing_downstream:contact"]]
    assert ids_of(client.get("/api/drifts", params={"system": "google"})) == [
        drift_ids["missing_downstream:deal"]
    ]
    first = client.get("/api/drifts", params={"limit": 3})
    assert ids_of(first) == every[:3]
    cursor = first.json()["next_cursor"]
    rest = client.get("/api/drifts", params={"limit": 3, "before_id": cursor})
    assert ids_of(rest) == every[3:]
    assert rest.json()["next_cursor"] is None

    one = client.get(f"/api/drifts/{drift_ids['field_drift:company']}").json()
    assert (one["field"], one["hubspot_value"], one["downstream_value"]) == (
        "City",
        "Seattle",
        "Portland",
    )
    assert one["cause_details"] == {"summary": "edited by hand", "change": "edited"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "drifted"}, "query.kind"),
        ({"status": "closed"}, "query.status"),
        ({"cause": "gremlins"}, "query.cause"),
        ({"system": "notion"}, "query.system"),
        ({"object_id": 0}, "query.object_id"),
        ({"limit": 0}, "query.limit"),
    ],
)
def test_bad_filters_are_422_naming_the_parameter(
    client: TestClient, as_viewer: ApiUsers, params: dict[str, Any], field: str
) -> None:
    response = client.get("/api/drifts", params=params)
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_unknown_drifts_are_404(client: TestClient, api_users: ApiUsers) -> None:
    operator = api_users["operator"]
    assert client.get("/api/drifts/999", headers=operator).status_code == 404
    response = client.post("/api/drifts/999/repair", headers=operator)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": [1], "filter": {"kind": "field_drift"}},
        {"ids": []},
        {"ids": [1], "x": 1},
        {"filter": {"kind": "drifted"}},
        {"ids": [0]},
    ],
)
def test_a_bad_bulk_repair_is_422(
    client: TestClient, api_users: ApiUsers, body: dict[str, Any]
) -> None:
    response = client.post("/api/drifts/repair", json=body, headers=api_users["operator"])
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]


def test_what_a_replay_cannot_repair_is_409(
    client: TestClient,
    api_users: ApiUsers,
    db: psycopg.Connection[Any],
    drift_ids: dict[str, int],
) -> None:
    operator = api_users["operator"]
    calendar = client.post(
        f"/api/drifts/{drift_ids['missing_downstream:deal']}/repair", headers=operator
    )
    assert (calendar.status_code, calendar.json()["error"]["code"]) == (409, "not_replayable")
    assert "never makes a second" in calendar.json()["error"]["message"]
    db.execute(
        "UPDATE orchestrator.drifts SET status = 'resolved' WHERE id = %s",
        (drift_ids["field_drift:company"],),
    )
    resolved = client.post(
        f"/api/drifts/{drift_ids['field_drift:company']}/repair", headers=operator
    )
    assert (resolved.status_code, resolved.json()["error"]["code"]) == (409, "already_resolved")
    assert db.execute("SELECT count(*) FROM orchestrator.replays").fetchone() == (0,)


def test_a_bulk_repair_by_filter_replays_what_it_can_and_says_why_not_for_the_rest(
    client: TestClient,
    api_users: ApiUsers,
    db: psycopg.Connection[Any],
    database_url: str,
    policy: LoadedPolicy,
    drift_ids: dict[str, int],
) -> None:
    # company 9001's creation was stored and its run failed: there is something to replay
    ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    dispatch_received(db, policy, limit=10)
    db.execute("UPDATE orchestrator.workflow_runs SET status = 'failed'")

    response = client.post(
        "/api/drifts/repair",
        json={"filter": {"system": "airtable"}},
        headers=api_users["operator"],
    )

    assert response.status_code == 200, response.text
    body = response.json()
    results = {r["drift_id"]: r for r in body["results"]}
    repaired = results[drift_ids["field_drift:company"]]
    assert (repaired["status"], repaired["replay_id"]) == ("repairing", body["replay_id"])
    assert results[drift_ids["missing_downstream:contact"]]["code"] == "no_stored_event"
    assert results[drift_ids["orphan_downstream:company"]]["code"] == "not_replayable"
    assert drift_ids["missing_downstream:deal"] not in results  # not matched by the filter
    assert (body["repairing"], body["refused"], body["runs_started"]) == (1, 2, 1)
    status = db.execute(
        "SELECT status, repair_replay_id FROM orchestrator.drifts WHERE id = %s",
        (drift_ids["field_drift:company"],),
    ).fetchone()
    assert status == ("repairing", body["replay_id"])
    audited = db.execute(
        "SELECT count(*) FROM orchestrator.audit_log WHERE action = 'drift.repair_requested'"
    ).fetchone()
    assert audited == (1,)
