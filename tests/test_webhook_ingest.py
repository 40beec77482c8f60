"""The webhook stores HubSpot's real payloads as envelopes, once per event, correlated by object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.conftest import WEBHOOK_SECRET
from tests.support import PORTAL_ID, count_rows, delivery_body, hubspot_event, signed_headers

URL = "http://testserver/webhooks/hubspot"
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "webhooks"


def post(client: TestClient, events: list[dict[str, Any]] | bytes, **kwargs: Any) -> Any:
    body = events if isinstance(events, bytes) else delivery_body(events)
    return client.post(
        "/webhooks/hubspot",
        content=body,
        headers=signed_headers(body, URL, WEBHOOK_SECRET),
        **kwargs,
    )


def envelopes(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with db.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM orchestrator.event_envelopes ORDER BY id")
        return cur.fetchall()


def test_each_event_type_is_stored_with_its_object(client: TestClient, db: Any) -> None:
    events = [
        hubspot_event("company.creation", objectId=9001),
        hubspot_event(
            "contact.propertyChange", objectId=7001, propertyName="jobtitle", propertyValue="CFO"
        ),
        hubspot_event("deal.deletion", objectId=5001),
        hubspot_event(
            "contact.merge",
            objectId=7004,
            primaryObjectId=7004,
            mergedObjectIds=[7005],
            newObjectId=7004,
        ),
        hubspot_event("company.restore", objectId=9010),
        hubspot_event(
            "contact.associationChange",
            associationType="CONTACT_TO_COMPANY",
            fromObjectId=7001,
            toObjectId=9001,
            associationRemoved=False,
        ),
        hubspot_event(
            "object.propertyChange", objectTypeId="0-3", objectId=5002, propertyName="amount"
        ),
        hubspot_event("object.creation", objectTypeId="2-3456789", objectId=4242),
        hubspot_event("conversation.newMessage", objectId=31337, messageId="m-1"),
    ]
    response = post(client, events)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["stored"], body["duplicates"], body["rejected"]) == (9, 0, 0)
    rows = envelopes(db)
    got = [(r["subscription_type"], r["object_type"], r["object_id"], r["status"]) for r in rows]
    assert got == [
        ("company.creation", "company", 9001, "received"),
        ("contact.propertyChange", "contact", 7001, "received"),
        ("deal.deletion", "deal", 5001, "received"),
        ("contact.merge", "contact", 7004, "received"),
        ("company.restore", "company", 9010, "received"),
        ("contact.associationChange", "contact", 7001, "received"),
        ("object.propertyChange", "deal", 5002, "received"),
        ("object.creation", "2-3456789", 4242, "received"),
        ("conversation.newMessage", None, 31337, "unrouted"),
    ]
    assert rows[-1]["status_reason"] == "unknown subscription type 'conversation.newMessage'"
    assert rows[1]["property_name"] == "jobtitle"
    assert rows[6]["object_type_id"] == "0-3"
    # The payload is HubSpot's event exactly as sent.
    assert rows[3]["payload"] == events[3]
    assert [e["envelope_id"] for e in body["events"]] == [r["id"] for r in rows]


def test_redelivery_with_a_new_attempt_number_is_stored_once(client: TestClient, db: Any) -> None:
    events = [hubspot_event(), hubspot_event(objectId=7002)]
    first = post(client, events)
    redelivered = [{**e, "attemptNumber": 3} for e in events]
    second = post(client, redelivered)

    assert first.status_code == second.status_code == 200
    assert second.json()["stored"] == 0
    assert second.json()["duplicates"] == 2
    assert [e["envelope_id"] for e in second.json()["events"]] == [
        e["envelope_id"] for e in first.json()["events"]
    ]
    rows = envelopes(db)
    assert len(rows) == 2
    assert all(r["delivery_count"] == 2 and r["last_attempt_number"] == 3 for r in rows)
    assert all(r["attempt_number"] == 0 for r in rows)
    # a delivery with nothing new is counted on its envelopes, not stored as a delivery
    assert second.json()["delivery_id"] is None
    assert count_rows(db, "webhook_deliveries") == 1


def test_same_event_id_with_different_content_is_two_events(client: TestClient, db: Any) -> None:
    # HubSpot does not promise unique eventIds: the content hash tells them apart.
    a = hubspot_event(
        "contact.propertyChange", eventId=42, propertyName="jobtitle", propertyValue="CTO"
    )
    b = {**a, "propertyName": "lifecyclestage", "propertyValue": "customer"}
    assert post(client, [a]).status_code == 200
    assert post(client, [b]).json()["stored"] == 1
    assert len(envelopes(db)) == 2


def test_same_event_twice_in_one_delivery_is_stored_once(client: TestClient, db: Any) -> None:
    event = hubspot_event()
    body = post(client, [event, event]).json()
    assert body["stored"] == 1
    assert body["duplicates"] == 1
    assert body["events"][0]["envelope_id"] == body["events"][1]["envelope_id"]
    assert len(envelopes(db)) == 1


def test_property_changes_of_one_object_share_a_correlation_id(client: TestClient, db: Any) -> None:
    deal = [
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="dealstage"),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="amount"),
    ]
    other = hubspot_event("deal.propertyChange", objectId=5002, propertyName="amount")
    post(client, [*deal, other])
    # A later delivery about the same object within the window joins the same group.
    later = hubspot_event(
        "deal.propertyChange",
        objectId=5001,
        propertyName="closedate",
        occurredAt=deal[0]["occurredAt"] + 20_000,
    )
    post(client, [later])

    rows = {(r["object_id"], r["property_name"]): r["correlation_id"] for r in envelopes(db)}
    assert rows[(5001, "dealstage")] == rows[(5001, "amount")] == rows[(5001, "closedate")]
    assert rows[(5002, "amount")] != rows[(5001, "amount")]


def test_bundled_samples_are_accepted(client: TestClient, db: Any) -> None:
    statuses = {}
    for path in sorted(SAMPLES.glob("*.json")):
        statuses[path.name] = post(client, path.read_bytes()).status_code
    assert statuses.pop("06-one-invalid-event.json") == 422
    assert set(statuses.values()) == {200}
    total = sum(len(json.loads(p.read_text())) for p in SAMPLES.glob("*.json"))
    redelivered = len(json.loads((SAMPLES / "04-redelivery-of-01.json").read_text()))
    assert count_rows(db, "event_envelopes") == total - redelivered - 1  # one invalid event
    assert count_rows(db, "webhook_rejections") == 1


def test_response_is_quick_for_a_full_delivery(client: TestClient, db: Any) -> None:
    events = [hubspot_event(objectId=10_000 + i) for i in range(100)]
    response = post(client, events)
    assert response.status_code == 200
    assert response.json()["stored"] == 100
    assert all(e["portalId"] == PORTAL_ID for e in events)
