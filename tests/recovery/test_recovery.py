"""A recovery pass end to end: HubSpot changes made in the sandbox with no webhook become
recovered envelopes, which `dispatch_received` routes once; late webhooks are covered; passes
that overlap, fail midway or only look store nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records.dispatch import dispatch_received
from orchestrator_core.recovery import RecoveryError
from orchestrator_core.recovery import recover as recover_pass
from orchestrator_core.recovery.rules import parse_hubspot_time
from resources.hubspot import HubSpotConnector
from tests.recovery.conftest import Conn, create, recover, recovered, update
from tests.support import count_rows, hubspot_event, ingest_events
from tests.vendor_sandbox import SandboxServer

WEEK_AGO = timedelta(days=7)


def _known_through_webhooks(database_url: str) -> None:
    """Company 9001 and contact 7001 as the product heard of them when they were created."""
    ingest_events(
        database_url,
        [
            hubspot_event("company.creation", objectId=9001),
            hubspot_event(
                "company.propertyChange",
                objectId=9001,
                propertyName="lifecyclestage",
                propertyValue="opportunity",
            ),
            hubspot_event("contact.creation", objectId=7001),
            hubspot_event(
                "contact.propertyChange",
                objectId=7001,
                propertyName="jobtitle",
                propertyValue="Directrice Financière",
            ),
        ],
    )


def _runs_of(db: Conn, envelope_id: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT id, workflow FROM orchestrator.workflow_runs WHERE %s = ANY(envelope_ids)",
        (envelope_id,),
    ).fetchall()


def test_changes_without_webhooks_are_recovered_and_routed_once(
    db: Conn,
    database_url: str,
    hubspot_sandbox: SandboxServer,
    connector: HubSpotConnector,
    policy: LoadedPolicy,
) -> None:
    _known_through_webhooks(database_url)
    assert dispatch_received(db, policy, limit=200).runs_created == 2
    start = datetime.now(UTC) - timedelta(seconds=1)
    # In HubSpot, with every webhook lost: two creations, a creation changed right after, and
    # a change to each known object (a routed property, and one no rule routes on).
    new_company = create(hubspot_sandbox, "companies", name="Fabrikam", domain="fabrikam.example")
    new_contact = create(hubspot_sandbox, "contacts", email="ana@fabrikam.example", jobtitle="CTO")
    changed_new = create(hubspot_sandbox, "companies", name="Tailspin", lifecyclestage="lead")
    update(hubspot_sandbox, "companies", changed_new, lifecyclestage="opportunity")
    modified_9001 = update(hubspot_sandbox, "companies", "9001", lifecyclestage="customer")
    update(hubspot_sandbox, "contacts", "7001", jobtitle="Chief Financial Officer")
    update(hubspot_sandbox, "contacts", "7002", phone="+1 555 0100")  # not a routed property

    report = recover(db, connector, policy, since=start)

    found = {(r["type"], r["object_id"], r["property"], r["value"]) for r in recovered(db)}
    assert found == {
        ("company.creation", int(new_company), None, None),
        ("company.creation", int(changed_new), None, None),
        ("contact.creation", int(new_contact), None, None),
        ("company.propertyChange", 9001, "lifecyclestage", "customer"),
        ("contact.propertyChange", 7001, "jobtitle", "Chief Financial Officer"),
    }
    assert report.stored == report.found == 5
    change_9001 = next(r for r in recovered(db) if r["object_id"] == 9001)
    assert change_9001["delivery_id"] is None and change_9001["event_id"] < 0
    assert (
        change_9001["key"] == f"companies:9001:lifecyclestage:{parse_hubspot_time(modified_9001)}"
    )
    assert change_9001["recovered_from"]["oldValue"] == "opportunity"
    assert change_9001["recovered_from"]["window"]["since"].startswith(start.strftime("%Y-%m-%d"))
    # 7002 was never heard of: a backfill, not a lost webhook.
    contacts = next(t for t in report.types if t.object_type == "contacts")
    assert contacts.unknown == 1

    summary = dispatch_received(db, policy, limit=200)

    assert summary.scanned == 5 and summary.runs_created == 5
    for row in recovered(db):
        runs = _runs_of(db, row["id"])
        expected = "company_intake" if row["type"].startswith("company") else "contact_role_mapping"
        assert [workflow for _, workflow in runs] == [expected]
    assert all(r["status"] == "dispatched" for r in recovered(db))
    assert dispatch_received(db, policy, limit=200).scanned == 0
    # The pass left one audit row with its counts.
    audited = db.execute(
        "SELECT after FROM orchestrator.audit_log WHERE action = 'recovery.completed'"
    ).fetchone()
    assert audited is not None and audited[0]["stored"] == audited[0]["found"] == 5


def test_a_late_webhook_for_a_recovered_change_is_covered_and_starts_nothing(
    db: Conn,
    database_url: str,
    hubspot_sandbox: SandboxServer,
    connector: HubSpotConnector,
    policy: LoadedPolicy,
) -> None:
    _known_through_webhooks(database_url)
    dispatch_received(db, policy, limit=200)
    start = datetime.now(UTC) - timedelta(seconds=1)
    modified = update(hubspot_sandbox, "companies", "9001", lifecyclestage="customer")
    changed_at = parse_hubspot_time(modified)
    assert changed_at is not None
    recover(db, connector, policy, since=start)
    dispatch_received(db, policy, limit=200)
    (recovered_change,) = recovered(db)
    runs_before = count_rows(db, "workflow_runs")

    # HubSpot's retry finally delivers the change (and, later, a newer one).
    late, newer = ingest_events(
        database_url,
        [
            hubspot_event(
                "company.propertyChange",
                objectId=9001,
                propertyName="lifecyclestage",
                propertyValue="customer",
                occurredAt=changed_at - 3,
            ),
            hubspot_event(
                "company.propertyChange",
                objectId=9001,
                propertyName="lifecyclestage",
                propertyValue="evangelist",
                occurredAt=changed_at + 120_000,
            ),
        ],
    )
    summary = dispatch_received(db, policy, limit=200)

    status = dict(
        db.execute(
            "SELECT id, status || ': ' || coalesce(status_reason, '')"
            " FROM orchestrator.event_envelopes WHERE id = ANY(%s)",
            ([late, newer],),
        ).fetchall()
    )
    assert (
        status[late] == f"covered: already carried by recovered envelope {recovered_change['id']}"
    )
    assert status[newer].startswith("dispatched")
    assert _runs_of(db, late) == []
    assert summary.runs_created == 1  # the newer change only
    assert count_rows(db, "workflow_runs") == runs_before + 1
    audited = db.execute(
        "SELECT after FROM orchestrator.audit_log WHERE action = 'event.status_changed'"
        " AND entity_id = %s",
        (str(late),),
    ).fetchone()
    assert audited is not None and audited[0]["status"] == "covered"


def test_a_change_a_webhook_delivered_is_not_recovered(
    db: Conn,
    database_url: str,
    hubspot_sandbox: SandboxServer,
    connector: HubSpotConnector,
    policy: LoadedPolicy,
) -> None:
    _known_through_webhooks(database_url)
    start = datetime.now(UTC) - timedelta(seconds=1)
    modified = parse_hubspot_time(update(hubspot_sandbox, "contacts", "7001", jobtitle="CFO"))
    ingest_events(
        database_url,
        [
            hubspot_event(
                "contact.propertyChange",
                objectId=7001,
                propertyName="jobtitle",
                propertyValue="CFO",
                occurredAt=modified,
            )
        ],
    )

    report = recover(db, connector, policy, since=start)

    assert report.found == 0 and recovered(db) == []


def test_overlapping_passes_store_nothing_twice(
    db: Conn,
    database_url: str,
    hubspot_sandbox: SandboxServer,
    connector: HubSpotConnector,
    policy: LoadedPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _known_through_webhooks(database_url)
    start = datetime.now(UTC) - timedelta(seconds=1)
    create(hubspot_sandbox, "companies", name="Contoso")
    update(hubspot_sandbox, "contacts", "7001", jobtitle="Head of Procurement")
    first = recover(db, connector, policy, since=start)
    stored = recovered(db)

    again = recover(db, connector, policy, since=start - timedelta(minutes=5))
    # A pass that read the stored envelopes before the first one committed (as a concurrent
    # one would) finds the creation again: its recovered key refuses it.
    monkeypatch.setattr(recover_pass, "known_objects", lambda *_, **__: {})
    blind = recover(db, connector, policy, since=start)

    assert first.stored == 2
    assert again.found == 0 and again.stored == 0
    assert blind.found == 1 and blind.stored == 0
    assert next(t for t in blind.types if t.object_type == "companies").already_stored == 1
    assert recovered(db) == stored


def test_a_dry_run_lists_the_changes_and_stores_nothing(
    db: Conn,
    database_url: str,
    hubspot_sandbox: SandboxServer,
    connector: HubSpotConnector,
    policy: LoadedPolicy,
) -> None:
    _known_through_webhooks(database_url)
    start = datetime.now(UTC) - timedelta(seconds=1)
    company = create(hubspot_sandbox, "companies", name="Litware")
    tables = ("event_envelopes", "recovery_watermarks", "audit_log", "workflow_runs")
    before = {t: count_rows(db, t) for t in tables}

    report = recover(db, connector, policy, since=start, dry_run=True)

    assert [(c.subscription_type, c.object_id) for c in report.changes] == [
        ("company.creation", int(company))
    ]
    assert {t: count_rows(db, t) for t in tables} == before


def test_a_pass_that_fails_midway_keeps_what_it_committed_and_the_next_one_finishes(
    db: Conn,
    database_url: str,
    hubspot_sandbox: SandboxServer,
    connector: HubSpotConnector,
    policy: LoadedPolicy,
) -> None:
    from orchestrator_core.recovery import CrmSearchSource
    from tests.recovery.conftest import seed_objects

    # 60 contacts created a minute apart; a cap of 20 makes the pass split them into windows.
    hubspot_sandbox.configure(hubspot={"search_result_cap": 20})
    origin = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    ids = seed_objects(
        database_url, "contacts", 880_001, [origin + timedelta(minutes=i) for i in range(60)]
    )
    until = origin + timedelta(hours=2)
    source = CrmSearchSource(connector, result_cap=20)
    failing = _FailsAfter(source, windows=2)

    with pytest.raises(RecoveryError):
        recover(db, failing, policy, since=None, until=until, object_types=["contacts"],
                first_lookback=until - origin)  # fmt: skip

    committed = failing.windows_seen[:2]
    (mark,) = db.execute(
        "SELECT checked_until FROM orchestrator.recovery_watermarks WHERE object_type = 'contacts'"
    ).fetchone() or (None,)
    assert mark == datetime.fromtimestamp(committed[-1].end_ms / 1000, UTC)
    in_committed = sum(len(w.objects) for w in failing.seen[:2])
    assert len(recovered(db)) == in_committed > 0
    assert count_rows(db, "audit_log WHERE action = 'recovery.failed'") == 1

    rerun = recover(db, source, policy, since=None, until=until, object_types=["contacts"])

    rows = recovered(db)
    assert sorted(r["object_id"] for r in rows) == sorted(int(i) for i in ids)
    assert len({r["key"] for r in rows}) == 60
    assert rerun.stored == 60 - in_committed
    assert rerun.types[0].since == mark
    (mark,) = db.execute(
        "SELECT checked_until FROM orchestrator.recovery_watermarks WHERE object_type = 'contacts'"
    ).fetchone() or (None,)
    assert mark == until


class _FailsAfter:
    """A source that loses HubSpot after `windows` windows, as a network failure would."""

    name = "crm_search"

    def __init__(self, source: Any, *, windows: int) -> None:
        self._source = source
        self._windows = windows
        self.seen: list[Any] = []

    @property
    def windows_seen(self) -> list[Any]:
        return [changes.window for changes in self.seen]

    def changes(self, object_type: Any, since: Any, until: Any, properties: Any) -> Any:
        for changes in self._source.changes(object_type, since, until, properties):
            if len(self.seen) == self._windows:
                raise RecoveryError("HubSpot went away")
            self.seen.append(changes)
            yield changes
