"""The comparison and cause rules on their own: no database, no vendor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.reconciliation.causes import (
    Evidence,
    LastRun,
    LastWrite,
    LatestEvent,
    OpenException,
    likely_cause,
)
from orchestrator_core.reconciliation.compare import (
    ExpectedEvent,
    Finding,
    HubSpotRecord,
    MirrorRow,
    compare_events,
    compare_mirror,
    orphan_candidates,
)
from orchestrator_core.reconciliation.mirrors import MirrorSpec, accounts_mirror, same_value

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PROPS = {
    "name": "Northwind",
    "website": None,
    "industry": "COMPUTER_SOFTWARE",
    "annualrevenue": "48000000",
    "type": "CUSTOMER",
    "lifecyclestage": "opportunity",
    "country": "United States",
    "city": "Seattle",
    "hubspot_owner_id": "101",
}


@pytest.fixture
def spec(policy: LoadedPolicy) -> MirrorSpec:
    return accounts_mirror(policy.policy)


def row(spec: MirrorSpec, record_id: str, key: object, **changes: object) -> MirrorRow:
    fields = {spec.key_field: key, **spec.expected(PROPS), **changes}
    return MirrorRow(record_id, {k: v for k, v in fields.items() if v is not None}, T0)


def test_a_faithful_mirror_has_no_difference(spec: MirrorSpec) -> None:
    # Airtable reads 48000000 back as an integer and leaves empty fields out
    hubspot = {"9001": HubSpotRecord("9001", PROPS)}
    assert (
        compare_mirror(spec, hubspot, [row(spec, "rec1", "9001", **{"Annual revenue": 48e6})]) == []
    )
    # a key typecast to a number is the same key
    assert compare_mirror(spec, hubspot, [row(spec, "rec1", 9001.0)]) == []


def test_each_kind_of_difference(spec: MirrorSpec) -> None:
    hubspot = {
        "9001": HubSpotRecord("9001", PROPS),
        "9002": HubSpotRecord("9002", PROPS),
        "9003": HubSpotRecord("9003", PROPS),
    }
    rows = [
        row(spec, "recA", "9001", City="Portland", Website="https://x.example"),
        row(spec, "recB", "9003"),
        row(spec, "recC", "9003"),
        row(spec, "recD", "4242"),
        row(spec, "recE", None),
    ]

    found = {
        (f.kind, f.object_id, f.field, f.downstream_id) for f in compare_mirror(spec, hubspot, rows)
    }

    assert found == {
        ("field_drift", 9001, "City", "recA"),
        ("field_drift", 9001, "Website", "recA"),
        ("missing_downstream", 9002, None, None),
        ("duplicate_downstream", 9003, None, None),
        ("orphan_downstream", 4242, None, "recD"),
        ("orphan_downstream", None, None, "recE"),
    }
    drift = next(f for f in compare_mirror(spec, hubspot, rows) if f.field == "City")
    assert (drift.hubspot_value, drift.downstream_value) == ("Seattle", "Portland")
    assert orphan_candidates(spec, hubspot, rows) == ["4242"]


def test_dedup_keys_are_stable_across_values(spec: MirrorSpec) -> None:
    first = Finding(
        "field_drift", spec.target, "airtable", "company", 9001, "rec1", "City", "A", "B"
    )
    again = Finding(
        "field_drift", spec.target, "airtable", "company", 9001, "rec1", "City", "A", "C"
    )
    other = Finding("field_drift", spec.target, "airtable", "company", 9001, "rec1", "Country")
    assert first.dedup_key == again.dedup_key != other.dedup_key


def test_a_calendar_event_missing_or_cancelled() -> None:
    expected = [
        ExpectedEvent("deal", 5001, 1, 11, "primary", "evt1"),
        ExpectedEvent("deal", 5002, 2, 12, "primary", "evt2"),
        ExpectedEvent("deal", 5003, 3, 13, "primary", "evt3"),
        ExpectedEvent("deal", 5004, 4, 14, None, None),
    ]
    found = compare_events(expected, {"evt1": "confirmed", "evt3": "cancelled"})
    assert [(f.object_id, f.details["event_status"]) for f in found] == [
        (5002, None),
        (5003, "cancelled"),
        (5004, None),
    ]


def test_same_value() -> None:
    assert same_value(48000000.0, 48000000)
    assert same_value(None, "")
    assert not same_value("Seattle", "seattle")
    assert not same_value(1.0, "abc")


# -- causes -----------------------------------------------------------------------------

WRITE = LastWrite(ledger_id=1, step="mirror_account", external_id="rec1", written_at=T0)
FAILED = LastRun(3, "failed", None, T0, "dg-1")
PROBLEM = OpenException(9, "retries_exhausted", "Airtable is down", "retry", 3)
EVENT = LatestEvent(5, "company.creation", "failed", T0 - timedelta(minutes=1))


def drift(**changes: object) -> Finding:
    values: dict[str, object] = {
        "kind": "field_drift",
        "target": "airtable/accounts",
        "system": "airtable",
        "object_type": "company",
        "object_id": 9001,
        "downstream_id": "rec1",
        "field": "City",
        **changes,
    }
    return Finding(**values)  # type: ignore[arg-type]


def test_a_change_after_our_last_write_is_a_hand_edit() -> None:
    later = drift(downstream_modified_at=T0 + timedelta(seconds=5))
    cause = likely_cause(later, Evidence(last_write=WRITE, events=1, latest_event=EVENT))
    assert cause.cause == "hand_edit"
    assert cause.details["last_write"]["ledger_id"] == 1
    # within the clock margin it is our own write: something else explains the difference
    ours = drift(downstream_modified_at=T0 + timedelta(milliseconds=200))
    assert likely_cause(ours, Evidence(last_write=WRITE, last_run=FAILED, events=1)).cause == (
        "workflow_failed"
    )


def test_a_row_we_wrote_that_is_gone_was_deleted_by_hand() -> None:
    cause = likely_cause(drift(kind="missing_downstream", field=None), Evidence(last_write=WRITE))
    assert (cause.cause, cause.details["change"]) == ("hand_edit", "deleted")


def test_a_failed_run_and_its_exception_explain_a_missing_row() -> None:
    missing = drift(kind="missing_downstream", field=None, downstream_id=None)
    cause = likely_cause(missing, Evidence(last_run=FAILED, open_exception=PROBLEM, events=1))
    assert cause.cause == "workflow_failed"
    assert cause.details["last_run"]["status"] == "failed"
    assert cause.details["open_exception"]["id"] == 9
    held = LastRun(4, "succeeded", "blocked", T0, None)
    assert likely_cause(
        missing, Evidence(last_run=held, open_exception=PROBLEM, events=1)
    ).cause == ("open_exception")
    running = LastRun(4, "running", None, None, None)
    assert likely_cause(missing, Evidence(last_run=running, events=1)).cause == (
        "workflow_in_progress"
    )


def test_no_event_suggests_recovery() -> None:
    missing = drift(kind="missing_downstream", field=None, hubspot_updated_at=T0)
    cause = likely_cause(missing, Evidence())
    assert cause.cause == "event_never_received"
    assert cause.details["suggestion"] == "orchestrator recover --since 2026-11-24T09:00:00Z"
    # HubSpot changed after our write and no event came since: the change was never delivered
    changed = drift(hubspot_updated_at=T0 + timedelta(hours=1))
    done = LastRun(4, "succeeded", "mirrored", T0, None)
    evidence = Evidence(last_write=WRITE, last_run=done, events=1, latest_event=EVENT)
    assert likely_cause(changed, evidence).cause == "event_never_received"
    # …while one that arrived and was routed nowhere is not
    unrouted = LatestEvent(6, "company.propertyChange", "unrouted", T0 + timedelta(hours=1))
    evidence = Evidence(last_write=WRITE, last_run=done, events=2, latest_event=unrouted)
    assert likely_cause(changed, evidence).cause == "event_not_routed"


def test_orphans_and_duplicates() -> None:
    orphan = drift(kind="orphan_downstream", field=None, object_id=4242)
    assert likely_cause(orphan, Evidence()).cause == "created_downstream"
    assert likely_cause(orphan, Evidence(last_write=WRITE)).cause == "hubspot_record_deleted"
    twins = drift(kind="duplicate_downstream", field=None, rows=("rec1", "rec2"))
    cause = likely_cause(twins, Evidence(last_write=WRITE))
    assert (cause.cause, cause.details["ours"], cause.details["others"]) == (
        "created_downstream",
        "rec1",
        ["rec2"],
    )
    assert likely_cause(twins, Evidence()).cause == "unknown"
