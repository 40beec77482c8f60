"""Every state change of events, workflow runs and exceptions leaves one audit row, written by
the code that makes the change, in its transaction: a webhook delivery's new events and
rejections (never a duplicate), envelope status changes, runs launched, started, parked and
finished (once per change), exceptions opened (not when an open one is counted again)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from orchestrator_core import audit
from orchestrator_core.events.envelope import parse_delivery
from orchestrator_core.events.store import DeliveryResult, store_delivery
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records import runs
from orchestrator_core.records.dispatch import dispatch_received
from orchestrator_core.records.exceptions import (
    NewException,
    open_exception,
    resolve_exception,
)
from orchestrator_core.records.runs import WorkflowRun
from tests.conftest import WEBHOOK_SECRET
from tests.support import delivery_body, hubspot_event, signed_headers

Row = dict[str, Any]


class AuditTrail:
    """The audit rows appended since it was created, oldest first."""

    def __init__(self, db: psycopg.Connection[Any]) -> None:
        self.db = db
        self.mark = self._last_id()

    def _last_id(self) -> int:
        row = self.db.execute("SELECT coalesce(max(id), 0) FROM orchestrator.audit_log").fetchone()
        assert row is not None
        return int(row[0])

    def rows(self, action: str | None = None, *, entity_type: str | None = None) -> list[Row]:
        with self.db.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT actor, action, entity_type, entity_id, before, after, correlation_id,"
                " policy_version FROM orchestrator.audit_log WHERE id > %(mark)s"
                " AND (%(action)s::text IS NULL OR action = %(action)s)"
                " AND (%(type)s::text IS NULL OR entity_type = %(type)s) ORDER BY id",
                {"mark": self.mark, "action": action, "type": entity_type},
            ).fetchall()

    def actions(self, entity_type: str, entity_id: object) -> list[tuple[str, Any, Any]]:
        """(action, before, after) of one entity's rows."""
        return [
            (r["action"], r["before"], r["after"])
            for r in self.rows(entity_type=entity_type)
            if r["entity_id"] == str(entity_id)
        ]

    def since_now(self) -> AuditTrail:
        return AuditTrail(self.db)


def _written_together(
    db: psycopg.Connection[Any],
    table: str,
    row_id: object,
    entity_type: str,
    action: str,
    entity_id: object = None,
) -> bool:
    """Whether the row of `table` (as it is now) and the latest `action` audit row of the
    entity (`entity_id`, by default the row's id) were written by one transaction."""
    xmins = db.execute(
        f"SELECT (SELECT xmin::text FROM orchestrator.{table} WHERE id = %(id)s),"
        " (SELECT xmin::text FROM orchestrator.audit_log WHERE entity_type = %(type)s"
        "  AND entity_id = %(entity)s AND action = %(action)s ORDER BY id DESC LIMIT 1)",
        {
            "id": row_id,
            "type": entity_type,
            "action": action,
            "entity": str(row_id if entity_id is None else entity_id),
        },
    ).fetchone()
    assert xmins is not None and None not in xmins
    return bool(xmins[0] == xmins[1])


@pytest.fixture
def trail(db: psycopg.Connection[Any]) -> Iterator[AuditTrail]:
    trail = AuditTrail(db)
    yield trail
    # Whatever a test appended, in one insert or many, the chain still verifies.
    assert audit.verify_chain(db).intact


def _store(database_url: str, events: list[Any]) -> DeliveryResult:
    delivery = parse_delivery(events, correlation_window_seconds=60)

    async def store() -> DeliveryResult:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            return await store_delivery(
                conn, delivery=delivery, signature_version="v3", request_id=None
            )

    return asyncio.run(store())


def _envelope(db: psycopg.Connection[Any], envelope_id: int) -> Row:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM orchestrator.event_envelopes WHERE id = %s", (envelope_id,)
        ).fetchone()
    assert row is not None
    return row


def _invalid_event() -> dict[str, Any]:
    event = hubspot_event("contact.creation", objectId=7100)
    del event["portalId"]
    return event


# -- ingest ---------------------------------------------------------------------------------


def test_a_delivery_is_audited_once_with_what_it_stored(
    db: psycopg.Connection[Any], database_url: str, trail: AuditTrail
) -> None:
    created = hubspot_event("company.creation", objectId=9001)
    changed = hubspot_event(
        "contact.propertyChange", objectId=7001, propertyName="jobtitle", propertyValue="CFO"
    )
    invalid = _invalid_event()
    first = _store(database_url, [created, changed, invalid, created])  # `created` twice

    ids = [e.envelope_id for e in first.events if not e.duplicate]
    ((raw_hash, errors),) = db.execute(
        "SELECT raw_hash, errors FROM orchestrator.webhook_rejections"
    ).fetchall()
    assert errors  # the rejection says why
    expected_stored = []
    for event, envelope_id in zip([created, changed], ids, strict=True):
        envelope = _envelope(db, envelope_id)
        expected_stored.append(
            {
                "envelopeId": envelope_id,
                "eventId": event["eventId"],
                "subscriptionType": event["subscriptionType"],
                "objectType": envelope["object_type"],
                "objectId": event["objectId"],
                "correlationId": str(envelope["correlation_id"]),
            }
        )
    assert trail.rows() == [
        {
            "actor": audit.HUBSPOT,
            "action": "delivery.accepted",
            "entity_type": "webhook_delivery",
            "entity_id": str(first.delivery_id),
            "before": None,
            "after": {
                "stored": expected_stored,
                "rejected": [{"index": 2, "rawHash": raw_hash, "errors": errors}],
                "duplicates": 0,
                "signatureVersion": "v3",
            },
            "correlation_id": None,
            "policy_version": None,
        }
    ]
    assert _written_together(
        db, "event_envelopes", ids[0], "webhook_delivery", "delivery.accepted", first.delivery_id
    )

    # A redelivery: the known event, the known invalid event and one new event. Only the new
    # event is listed; the invalid one was recorded before.
    later = trail.since_now()
    fresh = hubspot_event("deal.creation", objectId=5001)
    second = _store(database_url, [{**created, "attemptNumber": 1}, invalid, fresh])
    assert [e.duplicate for e in second.events] == [True, False]
    (row,) = later.rows()
    assert row["entity_id"] == str(second.delivery_id)
    assert [s["envelopeId"] for s in row["after"]["stored"]] == [second.events[1].envelope_id]
    assert row["after"]["rejected"] == []
    assert row["after"]["duplicates"] == 1

    # Nothing new at all: nothing audited.
    unchanged = trail.since_now()
    _store(database_url, [created, changed])
    assert unchanged.rows() == []


def test_the_webhook_route_audits_what_it_stores(
    client: TestClient, db: psycopg.Connection[Any], trail: AuditTrail
) -> None:
    events = [hubspot_event("company.creation", objectId=9001), _invalid_event()]
    body = delivery_body(events)
    uri = "http://testserver/webhooks/hubspot"
    response = client.post(
        "/webhooks/hubspot", content=body, headers=signed_headers(body, uri, WEBHOOK_SECRET)
    )
    assert response.status_code == 422, response.text  # one invalid event: recorded, reported
    details = response.json()["error"]["details"]
    (stored,) = details["events"]
    ((raw_hash,),) = db.execute("SELECT raw_hash FROM orchestrator.webhook_rejections").fetchall()
    (row,) = trail.rows()
    assert (row["actor"], row["action"], row["entity_id"]) == (
        audit.HUBSPOT,
        "delivery.accepted",
        details["delivery_id"],
    )
    assert [s["envelopeId"] for s in row["after"]["stored"]] == [stored["envelope_id"]]
    assert [r["rawHash"] for r in row["after"]["rejected"]] == [raw_hash]


# -- dispatch and runs ----------------------------------------------------------------------


def _dispatch_one(
    db: psycopg.Connection[Any], database_url: str, policy: LoadedPolicy, object_id: int
) -> tuple[int, WorkflowRun]:
    (envelope_id,) = [
        e.envelope_id
        for e in _store(
            database_url, [hubspot_event("company.creation", objectId=object_id)]
        ).events
    ]
    dispatch_received(db, policy, limit=50)
    row = db.execute(
        "SELECT id FROM orchestrator.workflow_runs WHERE envelope_ids = ARRAY[%s::bigint]",
        (envelope_id,),
    ).fetchone()
    assert row is not None
    run = runs.get_run(db, int(row[0]))
    assert run is not None
    return envelope_id, run


def test_dispatch_audits_the_runs_it_launches_and_the_envelopes_it_routes(
    db: psycopg.Connection[Any], database_url: str, policy: LoadedPolicy, trail: AuditTrail
) -> None:
    routed = _store(database_url, [hubspot_event("company.creation", objectId=9001)])
    unrouted = _store(
        database_url,
        [hubspot_event("company.propertyChange", objectId=9002, propertyName="domain")],
    )
    routed_id, unrouted_id = routed.events[0].envelope_id, unrouted.events[0].envelope_id
    before = trail.since_now()

    dispatch_received(db, policy, limit=50)

    ((run_id, run_key, correlation_id),) = db.execute(
        "SELECT id, run_key, correlation_id FROM orchestrator.workflow_runs"
    ).fetchall()
    assert before.rows("run.launched") == [
        {
            "actor": audit.SYSTEM,
            "action": "run.launched",
            "entity_type": "workflow_run",
            "entity_id": str(run_id),
            "before": None,
            "after": {
                "status": "requested",
                "workflow": "company_intake",
                "run_key": run_key,
                "envelope_ids": [routed_id],
                "object": "company/9001",
            },
            "correlation_id": str(correlation_id),
            "policy_version": policy.version,
        }
    ]
    changes = {r["entity_id"]: r for r in before.rows("event.status_changed")}
    assert set(changes) == {str(routed_id), str(unrouted_id)}
    routed_row = changes[str(routed_id)]
    assert (routed_row["actor"], routed_row["entity_type"]) == (audit.SYSTEM, "event")
    assert routed_row["before"] == {"status": "received"}
    assert routed_row["after"] == {
        "status": "dispatched",
        "reason": _envelope(db, routed_id)["status_reason"],
    }
    assert routed_row["correlation_id"] == str(correlation_id)
    assert routed_row["policy_version"] == policy.version
    unrouted_row = changes[str(unrouted_id)]
    assert unrouted_row["after"]["status"] == "unrouted"
    assert "domain" in unrouted_row["after"]["reason"]
    assert unrouted_row["correlation_id"] == str(_envelope(db, unrouted_id)["correlation_id"])

    # A second pass has nothing to route: nothing audited.
    again = trail.since_now()
    dispatch_received(db, policy, limit=50)
    assert again.rows() == []


def test_each_run_status_change_is_audited_once(
    db: psycopg.Connection[Any], database_url: str, policy: LoadedPolicy, trail: AuditTrail
) -> None:
    envelope_id, run = _dispatch_one(db, database_url, policy, 9001)
    start = trail.since_now()

    runs.begin_attempt(
        db, workflow_run_id=run.id, dagster_run_id="d-1", job_name="company_intake", kind="start"
    )
    # An op retry of the same Dagster run: still running, nothing to audit.
    runs.begin_attempt(
        db, workflow_run_id=run.id, dagster_run_id="d-1", job_name="company_intake", kind="start"
    )
    runs.park(db, workflow_run_id=run.id, dagster_run_id="d-1", state_summary={}, message="waiting")
    runs.begin_attempt(
        db,
        workflow_run_id=run.id,
        dagster_run_id="d-2",
        job_name="company_intake_continuation",
        kind="continuation",
    )
    finished = runs.finish(
        db,
        workflow_run_id=run.id,
        dagster_run_id="d-2",
        outcome="mirrored",
        message="done",
        state_summary={},
    )
    assert finished.status == "succeeded"
    assert _written_together(db, "workflow_runs", run.id, "workflow_run", "run.finished")
    assert _written_together(db, "event_envelopes", envelope_id, "event", "event.status_changed")
    # The status written again (a crash after the end, re-recorded): nothing new.
    runs.finish(
        db,
        workflow_run_id=run.id,
        dagster_run_id="d-2",
        outcome="mirrored",
        message="done",
        state_summary={},
    )

    assert start.actions("workflow_run", run.id) == [
        (
            "run.started",
            {"status": "requested"},
            {
                "status": "running",
                "workflow": "company_intake",
                "dagster_run_id": "d-1",
                "job_name": "company_intake",
                "attempt": "start",
            },
        ),
        (
            "run.parked",
            {"status": "running"},
            {
                "status": "awaiting_approval",
                "workflow": "company_intake",
                "dagster_run_id": "d-1",
                "message": "waiting",
            },
        ),
        (
            "run.started",
            {"status": "awaiting_approval"},
            {
                "status": "running",
                "workflow": "company_intake",
                "dagster_run_id": "d-2",
                "job_name": "company_intake_continuation",
                "attempt": "continuation",
            },
        ),
        (
            "run.finished",
            {"status": "running"},
            {
                "status": "succeeded",
                "workflow": "company_intake",
                "dagster_run_id": "d-2",
                "outcome": "mirrored",
                "message": "done",
            },
        ),
    ]
    run_rows = start.rows(entity_type="workflow_run")
    assert {(r["actor"], r["correlation_id"], r["policy_version"]) for r in run_rows} == {
        (audit.SYSTEM, str(run.correlation_id), run.policy_version)
    }
    # The envelope followed the run: each change of its status once, naming the run.
    assert start.actions("event", envelope_id) == [
        (
            "event.status_changed",
            {"status": "dispatched"},
            {"status": "awaiting_approval", "workflow_run_id": run.id},
        ),
        (
            "event.status_changed",
            {"status": "awaiting_approval"},
            {"status": "dispatched", "workflow_run_id": run.id},
        ),
        (
            "event.status_changed",
            {"status": "dispatched"},
            {"status": "processed", "workflow_run_id": run.id},
        ),
    ]
    assert _envelope(db, envelope_id)["status"] == "processed"
    # In the order of the changes, each run change before the envelope change it caused.
    assert [r["action"] for r in start.rows()] == [
        "run.started",
        "run.parked",
        "event.status_changed",
        "run.started",
        "event.status_changed",
        "run.finished",
        "event.status_changed",
    ]


def test_a_failed_run_is_audited_once_and_a_re_execution_reopens_it(
    db: psycopg.Connection[Any], database_url: str, policy: LoadedPolicy, trail: AuditTrail
) -> None:
    envelope_id, run = _dispatch_one(db, database_url, policy, 9001)
    runs.begin_attempt(
        db, workflow_run_id=run.id, dagster_run_id="d-1", job_name="company_intake", kind="start"
    )
    failing = trail.since_now()

    runs.fail(db, workflow_run_id=run.id, dagster_run_id="d-1", error="HubSpot said no")
    runs.fail(db, workflow_run_id=run.id, dagster_run_id=None, error="HubSpot said no")

    assert failing.actions("workflow_run", run.id) == [
        (
            "run.finished",
            {"status": "running"},
            {
                "status": "failed",
                "workflow": "company_intake",
                "dagster_run_id": "d-1",
                "outcome": "failed",
                "error": "HubSpot said no",
            },
        )
    ]
    assert failing.actions("event", envelope_id) == [
        (
            "event.status_changed",
            {"status": "dispatched"},
            {"status": "failed", "workflow_run_id": run.id},
        )
    ]

    # Re-executed from the UI: the failed run runs again, and that is on record.
    rerun = trail.since_now()
    runs.begin_attempt(
        db, workflow_run_id=run.id, dagster_run_id="d-2", job_name="company_intake", kind="resume"
    )
    assert [(a, b) for a, b, _ in rerun.actions("workflow_run", run.id)] == [
        ("run.started", {"status": "failed"})
    ]


def test_a_run_requested_by_another_run_is_audited_once(
    db: psycopg.Connection[Any], database_url: str, policy: LoadedPolicy, trail: AuditTrail
) -> None:
    _, parent = _dispatch_one(db, database_url, policy, 9001)
    asking = trail.since_now()

    def request() -> int:
        return runs.request_child_run(
            db,
            parent=parent,
            workflow="deal_kickoff",
            object_type="deal",
            object_id=5001,
            reason="closed won",
            details={},
            policy=policy,
        )

    child_id = request()
    assert request() == child_id  # a re-executed step asks again

    child = runs.get_run(db, child_id)
    assert child is not None
    assert asking.rows() == [
        {
            "actor": audit.SYSTEM,
            "action": "run.launched",
            "entity_type": "workflow_run",
            "entity_id": str(child_id),
            "before": None,
            "after": {
                "status": "requested",
                "workflow": "deal_kickoff",
                "run_key": child.run_key,
                "envelope_ids": parent.envelope_ids,
                "object": "deal/5001",
                "parent_run_id": parent.id,
                "reason": "closed won",
            },
            "correlation_id": str(parent.correlation_id),
            "policy_version": policy.version,
        }
    ]


# -- exceptions -----------------------------------------------------------------------------


def _resolve(database_url: str, exception_id: int) -> None:
    async def resolve() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await resolve_exception(conn, exception_id, note="fixed", resolved_by="user:a@b.c")

    asyncio.run(resolve())


def test_an_exception_is_audited_when_opened_not_when_counted_again(
    db: psycopg.Connection[Any], database_url: str, policy: LoadedPolicy, trail: AuditTrail
) -> None:
    _, run = _dispatch_one(db, database_url, policy, 9001)
    problem = NewException(
        kind="data_quality",
        severity="warning",
        message="the domain is missing",
        step="enrich",
        key="domain",
    )
    opening = trail.since_now()

    first = open_exception(db, problem, run=run, dagster_run_id="d-1")
    assert _written_together(db, "exceptions", first["id"], "exception", "exception.opened")
    again = open_exception(db, problem, run=run, dagster_run_id="d-2")
    assert again["id"] == first["id"]
    assert again["occurrences"] == 2
    assert "opened" not in again  # the returned row is the table's, nothing more
    # Re-read on resume (`once`): already recorded, nothing new.
    open_exception(db, problem, run=run, once=True)

    assert opening.rows() == [
        {
            "actor": audit.SYSTEM,
            "action": "exception.opened",
            "entity_type": "exception",
            "entity_id": str(first["id"]),
            "before": None,
            "after": {
                "status": "open",
                "kind": "data_quality",
                "severity": "warning",
                "message": "the domain is missing",
                "workflow": "company_intake",
                "workflow_run_id": run.id,
                "dagster_run_id": "d-1",
                "step": "enrich",
                "object": "company/9001",
            },
            "correlation_id": str(run.correlation_id),
            "policy_version": run.policy_version,
        }
    ]

    # Resolved, then raised again: a new exception, opened (and audited) anew.
    _resolve(database_url, int(first["id"]))
    reopening = trail.since_now()
    reopened = open_exception(db, problem, run=run, dagster_run_id="d-3")
    assert reopened["id"] != first["id"]
    assert [(r["action"], r["entity_id"]) for r in reopening.rows()] == [
        ("exception.opened", str(reopened["id"]))
    ]


def test_an_exception_without_a_run_is_audited_by_the_actor_given(
    db: psycopg.Connection[Any], trail: AuditTrail
) -> None:
    row = open_exception(
        db,
        NewException(kind="approval_expired", severity="warning", message="expired"),
        run=None,
        actor=audit.SCHEDULER,
    )
    ((actor, entity_id, after, correlation_id),) = [
        (r["actor"], r["entity_id"], r["after"], r["correlation_id"]) for r in trail.rows()
    ]
    assert (actor, entity_id, correlation_id) == (audit.SCHEDULER, str(row["id"]), None)
    assert after["object"] is None and after["workflow_run_id"] is None


def test_the_change_and_its_audit_row_roll_back_together(
    db: psycopg.Connection[Any], database_url: str, policy: LoadedPolicy, trail: AuditTrail
) -> None:
    _, run = _dispatch_one(db, database_url, policy, 9001)
    counted = trail.since_now()
    # The caller's transaction rolls back: neither the exception nor its audit row remain.
    with pytest.raises(RuntimeError), db.transaction():
        open_exception(
            db, NewException(kind="k", severity="error", message="m"), run=run, dagster_run_id="x"
        )
        runs.fail(db, workflow_run_id=run.id, dagster_run_id=None, error="boom")
        raise RuntimeError("rolled back")
    assert counted.rows() == []
    assert db.execute("SELECT count(*) FROM orchestrator.exceptions").fetchone() == (0,)
    assert runs.get_run(db, run.id) == run
