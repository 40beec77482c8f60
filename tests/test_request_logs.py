"""Logs you can follow, on the API side: every line of a request names its request id; the
webhook's lines name the correlation ids of the events it stored, and a route that loads a
workflow run names the run's; no secret and no body reaches the logs (docs/operations.md#logs)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records.dispatch import dispatch_received
from tests.conftest import WEBHOOK_SECRET
from tests.support import (
    delivery_body,
    hubspot_event,
    json_log_lines,
    signed_headers,
    workflow_run_id,
)

URL = "http://testserver/webhooks/hubspot"


def correlation_ids(db: psycopg.Connection[Any], envelope_ids: list[int]) -> list[str]:
    rows = db.execute(
        "SELECT DISTINCT correlation_id::text FROM orchestrator.event_envelopes WHERE id = ANY(%s)",
        (envelope_ids,),
    ).fetchall()
    return sorted(str(row[0]) for row in rows)


def test_the_stored_delivery_names_its_correlation_ids(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    events = [
        hubspot_event("company.creation", objectId=9001),
        hubspot_event("company.propertyChange", objectId=9001, propertyName="name"),
        hubspot_event("contact.creation", objectId=7001),
    ]
    body = delivery_body(events)
    with json_log_lines() as lines:
        response = client.post(
            "/webhooks/hubspot", content=body, headers=signed_headers(body, URL, WEBHOOK_SECRET)
        )
    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]
    envelope_ids = [e["envelope_id"] for e in response.json()["events"]]
    expected = correlation_ids(db, envelope_ids)
    assert len(expected) == 2  # the company's two events share one

    (stored,) = [line for line in lines if line["event"] == "delivery stored"]
    assert stored["request_id"] == request_id
    assert sorted(stored["correlation_ids"]) == expected
    assert stored["envelope_ids"] == envelope_ids
    # The request's access line names them too, and every line names the request.
    (access,) = [line for line in lines if line["event"] == "request"]
    assert access["path"] == "/webhooks/hubspot"
    assert sorted(access["correlation_ids"]) == expected
    app_lines = [line for line in lines if not line["logger"].startswith("httpx")]  # the client's
    assert {line["request_id"] for line in app_lines} == {request_id}

    text = "\n".join(json.dumps(line) for line in lines)
    assert WEBHOOK_SECRET not in text
    assert str(events[0]["eventId"]) not in text  # no body


def test_a_redelivery_names_the_same_correlation_ids(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    body = delivery_body([hubspot_event("company.creation", objectId=9002)])
    headers = signed_headers(body, URL, WEBHOOK_SECRET)
    first = client.post("/webhooks/hubspot", content=body, headers=headers)
    assert first.status_code == 200
    expected = correlation_ids(db, [first.json()["events"][0]["envelope_id"]])
    with json_log_lines() as lines:
        again = client.post("/webhooks/hubspot", content=body, headers=headers)
    assert again.json()["duplicates"] == 1
    (stored,) = [line for line in lines if line["event"] == "delivery stored"]
    assert stored["correlation_ids"] == expected


def test_the_run_detail_names_the_runs_correlation_id(
    client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy, api_users: Any
) -> None:
    body = delivery_body([hubspot_event("company.creation", objectId=9003)])
    stored = client.post(
        "/webhooks/hubspot", content=body, headers=signed_headers(body, URL, WEBHOOK_SECRET)
    )
    envelope_id = stored.json()["events"][0]["envelope_id"]
    assert dispatch_received(db, policy, limit=10).runs_created == 1
    run_id = workflow_run_id(db, "company_intake", 9003)
    (expected,) = correlation_ids(db, [envelope_id])

    with json_log_lines() as lines:
        response = client.get(f"/api/runs/{run_id}", headers=api_users["viewer"])
    assert response.status_code == 200
    assert response.json()["correlation_id"] == expected
    (access,) = [line for line in lines if line["event"] == "request"]
    assert (access["workflow_run_id"], access["correlation_id"]) == (run_id, expected)
    assert access["request_id"] == response.headers["x-request-id"]
    # The bearer token is not logged.
    token = api_users["viewer"]["Authorization"].removeprefix("Bearer ")
    assert token not in "\n".join(json.dumps(line) for line in lines)
