"""Dedup hashes and correlation ids, computed from HubSpot events alone."""

from __future__ import annotations

from typing import Any

from orchestrator_core.events.envelope import content_hash, parse_delivery
from tests.support import BASE_OCCURRED_AT, hubspot_event

WINDOW = 60


def correlations(events: list[dict[str, Any]]) -> list[str]:
    parsed = parse_delivery(events, correlation_window_seconds=WINDOW)
    assert not parsed.rejected
    return [str(row.correlation_id) for row in parsed.envelopes]


def test_content_hash_ignores_only_the_attempt_number() -> None:
    event = hubspot_event("contact.propertyChange", propertyName="jobtitle", propertyValue="CTO")
    assert content_hash(event) == content_hash({**event, "attemptNumber": 7})
    assert content_hash(event) == content_hash(dict(reversed(list(event.items()))))
    assert content_hash(event) != content_hash({**event, "propertyValue": "CFO"})


def test_same_object_same_window_shares_and_other_objects_do_not() -> None:
    start = BASE_OCCURRED_AT  # on a window boundary
    ids = correlations(
        [
            hubspot_event(objectId=1, occurredAt=start),
            hubspot_event(objectId=1, occurredAt=start + 59_000),
            hubspot_event(objectId=2, occurredAt=start),
            hubspot_event("company.creation", objectId=1, occurredAt=start),
        ]
    )
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[3]}) == 3  # other object id, other object type


def test_one_delivery_straddling_a_window_boundary_shares_one_id() -> None:
    boundary = BASE_OCCURRED_AT + WINDOW * 1000
    ids = correlations(
        [
            hubspot_event(objectId=1, occurredAt=boundary - 1),
            hubspot_event(objectId=1, occurredAt=boundary + 1),
        ]
    )
    assert ids[0] == ids[1]


def test_separate_deliveries_in_different_windows_do_not_share() -> None:
    first = correlations([hubspot_event(objectId=1, occurredAt=BASE_OCCURRED_AT)])
    later = correlations([hubspot_event(objectId=1, occurredAt=BASE_OCCURRED_AT + 61_000)])
    assert first != later


def test_a_redelivery_computes_the_same_correlation_id() -> None:
    events = [
        hubspot_event(objectId=5),
        hubspot_event("object.creation", objectTypeId="2-99", objectId=5),
    ]
    assert correlations(events) == correlations([{**e, "attemptNumber": 2} for e in events])


def test_association_changes_correlate_with_their_from_object() -> None:
    ids = correlations(
        [
            hubspot_event(objectId=7001),
            hubspot_event(
                "contact.associationChange",
                fromObjectId=7001,
                toObjectId=9001,
                associationType="CONTACT_TO_COMPANY",
            ),
        ]
    )
    assert ids[0] == ids[1]


def test_generic_object_events_correlate_with_their_standard_type() -> None:
    ids = correlations(
        [
            hubspot_event("deal.propertyChange", objectId=5001),
            hubspot_event("object.propertyChange", objectTypeId="0-3", objectId=5001),
        ]
    )
    assert ids[0] == ids[1]
