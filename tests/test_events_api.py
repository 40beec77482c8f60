"""GET /api/events (filters, pages) and GET /api/events/{id}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator_core.policy import load_policy
from orchestrator_core.records import runs as workflow_runs
from orchestrator_core.records.dispatch import dispatch_received
from orchestrator_core.settings import DEFAULT_POLICY_PATH, Settings
from tests.conftest import WEBHOOK_SECRET
from tests.support import BASE_OCCURRED_AT, delivery_body, hubspot_event, signed_headers

URL = "http://testserver/webhooks/hubspot"
# Every request reads as a viewer (who may call what: test_access_matrix.py).
pytestmark = pytest.mark.usefixtures("as_viewer")


@pytest.fixture
def stored(client: TestClient, db: Any) -> list[dict[str, Any]]:
    """Twelve envelopes: companies, contacts, deals, one unrouted, at increasing times."""
    events = [
        *(
            hubspot_event(
                "company.creation", objectId=9000 + i, occurredAt=BASE_OCCURRED_AT + i * 60_000
            )
            for i in range(4)
        ),
        *(
            hubspot_event(
                "contact.propertyChange",
                objectId=7001,
                propertyName="jobtitle",
                occurredAt=BASE_OCCURRED_AT + i * 60_000,
            )
            for i in range(5)
        ),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="dealstage"),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="amount"),
        hubspot_event("ticket.creation.v2", objectId=1),
    ]
    body = delivery_body(events)
    response = client.post(
        "/webhooks/hubspot", content=body, headers=signed_headers(body, URL, WEBHOOK_SECRET)
    )
    assert response.status_code == 200
    return events


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_lists_newest_first_with_every_field(client: TestClient, stored: Any) -> None:
    items = client.get("/api/events").json()["items"]
    assert [i["id"] for i in items] == list(range(12, 0, -1))
    first = items[-1]
    assert first["subscription_type"] == "company.creation"
    assert first["object_type"] == "company" and first["object_id"] == 9000
    assert first["payload"]["eventId"] == stored[0]["eventId"]
    assert first["occurred_at"].startswith("2026-11-24T09:00:00")
    for key in ("correlation_id", "delivery_id", "content_hash", "received_at", "status"):
        assert first[key]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "unrouted"}, [12]),
        ({"subscription_type": "company.creation"}, [4, 3, 2, 1]),
        ({"object_type": "contact", "object_id": 7001}, [9, 8, 7, 6, 5]),
        ({"object_type": "deal"}, [11, 10]),
        (
            {
                "object_type": "company",
                "occurred_from": "2026-11-24T09:01:00Z",
                "occurred_to": "2026-11-24T09:03:00Z",
            },
            [3, 2],
        ),
    ],
)
def test_filters(
    client: TestClient, stored: Any, params: dict[str, Any], expected: list[int]
) -> None:
    assert ids(client.get("/api/events", params=params)) == expected


def test_filter_by_correlation_and_received_time(client: TestClient, stored: Any) -> None:
    deal = client.get("/api/events", params={"object_type": "deal"}).json()["items"]
    assert deal[0]["correlation_id"] == deal[1]["correlation_id"]
    assert ids(client.get("/api/events", params={"correlation_id": deal[0]["correlation_id"]})) == [
        11,
        10,
    ]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ids(client.get("/api/events", params={"received_from": future})) == []
    assert len(ids(client.get("/api/events", params={"received_to": future}))) == 12


def test_pages_with_a_cursor(client: TestClient, stored: Any) -> None:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["before_id"] = cursor
        page = client.get("/api/events", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        pages += 1
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(range(12, 0, -1))


def test_get_one_and_not_found(client: TestClient, stored: Any) -> None:
    one = client.get("/api/events/10").json()
    assert one["id"] == 10 and one["property_name"] == "dealstage"
    missing = client.get("/api/events/999")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "no event envelope with id 999",
    }


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/events?limit=0", "query.limit"),
        ("/api/events?limit=501", "query.limit"),
        ("/api/events?occurred_from=yesterday", "query.occurred_from"),
        ("/api/events?correlation_id=nope", "query.correlation_id"),
        ("/api/events/abc", "path.envelope_id"),
    ],
)
def test_bad_parameters_name_the_field(client: TestClient, path: str, field: str) -> None:
    response = client.get(path)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [d["field"] for d in error["details"]] == [field]


def test_get_one_shows_the_workflow_runs_it_started(
    client: TestClient, stored: Any, db: Any, settings: Settings
) -> None:
    assert client.get("/api/events/10").json()["runs"] == []  # not dispatched yet
    policy = load_policy(DEFAULT_POLICY_PATH)
    dispatch_received(db, policy, limit=100)
    (kickoff_id,) = db.execute(
        "SELECT id FROM orchestrator.workflow_runs WHERE workflow = 'deal_kickoff'"
    ).fetchone()

    (run,) = client.get("/api/events/10").json()["runs"]
    assert run == {
        "workflow_run_id": kickoff_id,
        "workflow": "deal_kickoff",
        "status": "requested",
        "outcome": None,
        "dagster_run_id": None,
        "dagster_url": None,
    }
    workflow_runs.begin_attempt(
        db, workflow_run_id=kickoff_id, dagster_run_id="dg-77", job_name="kickoff", kind="start"
    )
    one = client.get("/api/events/10").json()
    assert one["id"] == 10 and one["status"] == "dispatched"
    (run,) = one["runs"]
    assert (run["status"], run["dagster_run_id"]) == ("running", "dg-77")
    assert run["dagster_url"] == settings.dagster_ui_url.rstrip("/") + "/runs/dg-77"
    # The deal's amount change started a different workflow, the ticket none.
    assert [r["workflow"] for r in client.get("/api/events/11").json()["runs"]] == [
        "procurement_approval"
    ]
    assert client.get("/api/events/12").json()["runs"] == []

    # A run requested by another run shares its parent's events.
    (company_id,) = db.execute(
        "SELECT id FROM orchestrator.workflow_runs WHERE envelope_ids = ARRAY[1::bigint]"
    ).fetchone()
    child_id = workflow_runs.request_child_run(
        db,
        parent=workflow_runs.get_run(db, company_id),
        workflow="deal_kickoff",
        object_type="deal",
        object_id=5002,
        reason="company became a customer",
        details={},
        policy=policy,
    )
    assert [
        (r["workflow_run_id"], r["workflow"]) for r in client.get("/api/events/1").json()["runs"]
    ] == [(company_id, "company_intake"), (child_id, "deal_kickoff")]
