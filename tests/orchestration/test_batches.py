"""Batches at the event sensor, against real rows and a real Dagster instance: a backlog becomes
batch runs and a lone event its own run; each workflow run is launched once across ticks, a
restarted daemon and lost requests; batch size and batches in flight are bounded; one run per
HubSpot object at a time, in order, a decided approval included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestrator_core.records import approvals, runs
from orchestrator_core.records.approval_rules import Decider
from orchestrator_core.settings import get_settings
from sensors.approvals import approval_sensor
from sensors.events import hubspot_event_sensor
from tests.support import decide_approval, hubspot_event, ingest_events, json_log_lines

HOUR_MS = 3_600_000


@pytest.fixture
def batching(dagster_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_BATCH_MAX", "4")
    monkeypatch.setenv("ORCHESTRATOR_BATCHES_IN_FLIGHT", "2")
    get_settings.cache_clear()


def _tick(instance: dg.DagsterInstance, cursor: str | None = None) -> list[dg.RunRequest]:
    return list(
        hubspot_event_sensor(dg.build_sensor_context(instance=instance, cursor=cursor)) or []
    )


def _contacts(database_url: str, *object_ids: int, hours_later: int = 0) -> list[int]:
    return ingest_events(
        database_url,
        [
            hubspot_event(
                "contact.creation",
                objectId=object_id,
                occurredAt=1_795_510_800_000 + hours_later * HOUR_MS,
            )
            for object_id in object_ids
        ],
    )


def _config(request: dg.RunRequest) -> dict[str, Any]:
    assert request.job_name is not None
    config: dict[str, Any] = request.run_config["ops"][f"run_{request.job_name}"]["config"]
    return config


def _park_deal_at_approval(
    instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> tuple[int, approvals.Approval]:
    """Deal 5002's procurement run, launched and parked at a pending approval (recorded as the
    runner records it)."""
    ingest_events(database_url, [hubspot_event("deal.creation", objectId=5002)])
    (launch,) = _tick(instance)
    parked_id: int = _config(launch)["workflow_run_id"]
    run = runs.begin_attempt(
        db, workflow_run_id=parked_id, dagster_run_id="dagster-1", job_name="test", kind="start"
    )
    approval = approvals.request_approval(
        db,
        run=run,
        interrupt_id="interrupt-1",
        request=approvals.ApprovalRequest(
            kind="procurement",
            proposal={"amount": "125000"},
            reason="above the threshold",
            policy_snapshot={},
            approver_role="admin",
            due_at=datetime.now(UTC) + timedelta(days=2),
            requested_by=None,
        ),
        dagster_run_id="dagster-1",
    )
    runs.park(
        db, workflow_run_id=parked_id, dagster_run_id="dagster-1", state_summary={}, message="x"
    )
    return parked_id, approval


def _change_deal_amount(database_url: str, amount: str, *, hours_later: int) -> None:
    """A later change of deal 5002 (outside the correlation window: a run of its own)."""
    ingest_events(
        database_url,
        [
            hubspot_event(
                "deal.propertyChange",
                objectId=5002,
                propertyName="amount",
                propertyValue=amount,
                occurredAt=1_795_510_800_000 + hours_later * HOUR_MS,
            )
        ],
    )


def _run_ids(db: psycopg.Connection[Any], workflow: str) -> list[int]:
    rows = db.execute(
        "SELECT id FROM orchestrator.workflow_runs WHERE workflow = %s ORDER BY id", (workflow,)
    ).fetchall()
    return [row[0] for row in rows]


def test_a_backlog_becomes_batch_runs_and_a_lone_event_its_own_run(
    batching: None,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
) -> None:
    ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    _contacts(database_url, 7001, 7002, 7003, 7004, 7005, 7006)

    requests = _tick(dagster_instance)

    (lone,) = [r for r in requests if r.job_name == "company_intake"]
    (company_run,) = _run_ids(db, "company_intake")
    run_key = db.execute(
        "SELECT run_key FROM orchestrator.workflow_runs WHERE id = %s", (company_run,)
    ).fetchone()
    assert (lone.run_key,) == run_key
    assert _config(lone)["workflow_run_id"] == company_run
    assert "orchestrator/batch_id" not in lone.tags

    batches = [r for r in requests if r.job_name == "contact_role_mapping"]
    contact_runs = _run_ids(db, "contact_role_mapping")
    assert [r.tags["orchestrator/batch_size"] for r in batches] == ["4", "2"]
    members = db.execute(
        "SELECT id, workflow, phase, workflow_run_ids FROM orchestrator.run_batches ORDER BY id"
    ).fetchall()
    assert [row[3] for row in members] == [contact_runs[:4], contact_runs[4:]]
    for request, (batch_id, workflow, phase, _) in zip(batches, members, strict=True):
        assert request.run_key == f"batch:{batch_id}"
        assert _config(request) == {"batch_id": batch_id}
        assert request.tags["orchestrator/batch_id"] == str(batch_id)
        assert request.tags["orchestrator/phase"] == phase == "start"
        assert request.tags["workflow"] == workflow == "contact_role_mapping"
        assert request.tags["dagster/priority"] == "-1"  # behind lone runs and approvals
    assigned = db.execute(
        "SELECT id, batch_id FROM orchestrator.workflow_runs WHERE workflow ="
        " 'contact_role_mapping' ORDER BY id"
    ).fetchall()
    assert [batch for _, batch in assigned] == [members[0][0]] * 4 + [members[1][0]] * 2


def test_each_run_is_launched_once_across_ticks_restarts_and_lost_requests(
    batching: None,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
) -> None:
    _contacts(database_url, 7001, 7002, 7003)
    (first,) = _tick(dagster_instance)

    # Another tick, or a restarted daemon (no cursor), asks for nothing more.
    assert _tick(dagster_instance) == []
    assert _tick(dagster_instance, cursor=None) == []

    # The request was lost (the batch never started): asked again, same key and members.
    db.execute("UPDATE orchestrator.run_batches SET last_requested_at = now() - interval '1 h'")
    (again,) = _tick(dagster_instance)
    assert (again.run_key, _config(again)) == (first.run_key, _config(first))
    assert db.execute("SELECT count(*) FROM orchestrator.run_batches").fetchone() == (1,)

    # A started batch is never asked for again, and its runs never go into another batch.
    db.execute(
        "UPDATE orchestrator.run_batches SET started_at = now(),"
        " last_requested_at = now() - interval '1 h'"
    )
    db.execute("UPDATE orchestrator.workflow_runs SET last_requested_at = now() - interval '1 h'")
    assert _tick(dagster_instance) == []
    assert db.execute(
        "SELECT count(DISTINCT batch_id), count(*) FROM orchestrator.workflow_runs"
    ).fetchone() == (1, 3)


def test_the_sensor_names_the_runs_and_correlation_ids_it_asks_for(
    batching: None,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
) -> None:
    """One log line per run asked for (docs/operations.md#logs): a batch's names its members'
    workflow runs and correlation ids, when new and when asked for again; a lone run's its own."""
    _contacts(database_url, 7001, 7002, 7003)
    members = db.execute(
        "SELECT id, correlation_id::text FROM orchestrator.event_envelopes ORDER BY id"
    ).fetchall()
    expected = sorted(correlation for _, correlation in members)
    with json_log_lines() as lines:
        (first,) = _tick(dagster_instance)
        db.execute("UPDATE orchestrator.run_batches SET last_requested_at = now() - interval '1 h'")
        (again,) = _tick(dagster_instance)
    requested = [line for line in lines if line["event"] == "run requested"]
    assert [line["run_key"] for line in requested] == [first.run_key, again.run_key]
    for line in requested:
        assert sorted(line["correlation_ids"]) == expected
        assert len(line["workflow_run_ids"]) == 3

    db.execute("UPDATE orchestrator.run_batches SET started_at = now(), finished_at = now()")
    db.execute("UPDATE orchestrator.workflow_runs SET status = 'succeeded'")
    (envelope_id,) = _contacts(database_url, 7009, hours_later=2)
    with json_log_lines() as lines:
        (lone,) = _tick(dagster_instance)
    (line,) = [line for line in lines if line["event"] == "run requested"]
    (correlation,) = db.execute(
        "SELECT correlation_id::text FROM orchestrator.event_envelopes WHERE id = %s",
        (envelope_id,),
    ).fetchone() or (None,)
    assert (line["run_key"], line["correlation_id"], line["envelope_ids"]) == (
        lone.run_key,
        correlation,
        [envelope_id],
    )
    assert line["workflow_run_id"] == _config(lone)["workflow_run_id"]


def test_batch_size_and_batches_in_flight_are_bounded(
    batching: None,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
) -> None:
    _contacts(database_url, *range(7001, 7011))  # 10 contacts: batches of 4, 2 in flight

    first = _tick(dagster_instance)
    assert [r.tags["orchestrator/batch_size"] for r in first] == ["4", "4"]
    waiting = db.execute(
        "SELECT count(*) FROM orchestrator.workflow_runs"
        " WHERE batch_id IS NULL AND last_requested_at IS NULL"
    ).fetchone()
    assert waiting == (2,)  # requested, not asked: they wait for a batch slot
    assert _tick(dagster_instance) == []

    db.execute(
        "UPDATE orchestrator.run_batches SET finished_at = now()"
        " WHERE id = (SELECT min(id) FROM orchestrator.run_batches)"
    )
    (third,) = _tick(dagster_instance)
    assert third.tags["orchestrator/batch_size"] == "2"


def test_a_batch_in_its_last_round_gives_its_slot_to_the_next(
    batching: None,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One batch slot; a batch works 2 of its 4 runs at once.
    monkeypatch.setenv("ORCHESTRATOR_BATCHES_IN_FLIGHT", "1")
    monkeypatch.setenv("ORCHESTRATOR_BATCH_CONCURRENCY", "2")
    get_settings.cache_clear()
    _contacts(database_url, *range(7001, 7009))  # 8 contacts: two batches of 4

    (first,) = _tick(dagster_instance)
    batch = _config(first)["batch_id"]
    members = _run_ids(db, "contact_role_mapping")[:4]
    db.execute("UPDATE orchestrator.run_batches SET started_at = now() WHERE id = %s", (batch,))
    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'running' WHERE id = ANY(%s)", (members,)
    )
    assert _tick(dagster_instance) == []  # 4 runs left: more than one round

    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'succeeded' WHERE id = ANY(%s)",
        (members[:2],),
    )
    (second,) = _tick(dagster_instance)  # 2 left: its last round, the next batch starts
    assert second.tags["orchestrator/batch_size"] == "4"
    assert db.execute(
        "SELECT count(*) FROM orchestrator.run_batches WHERE finished_at IS NULL"
    ).fetchone() == (2,)


def test_one_run_per_object_at_a_time_and_in_order(
    batching: None,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_BATCHES_IN_FLIGHT", "1")
    get_settings.cache_clear()
    _contacts(database_url, 7001, 7002)
    # A later change of contact 7001 (outside the correlation window): a run of its own.
    ingest_events(
        database_url,
        [
            hubspot_event(
                "contact.propertyChange",
                objectId=7001,
                propertyName="jobtitle",
                propertyValue="CTO",
                occurredAt=1_795_510_800_000 + HOUR_MS,
            )
        ],
    )
    (batch,) = _tick(dagster_instance)
    first, other, later = _run_ids(db, "contact_role_mapping")
    assert _config(batch) == {"batch_id": batch_id(db, first)}
    members = db.execute("SELECT workflow_run_ids FROM orchestrator.run_batches").fetchone()
    assert members == ([first, other],)  # never two runs of 7001 in one batch

    # While the earlier run of 7001 is requested or running, the later one waits.
    assert _tick(dagster_instance) == []
    db.execute("UPDATE orchestrator.workflow_runs SET status = 'running' WHERE id = %s", (first,))
    assert _tick(dagster_instance) == []
    # Contact 7002's run finishing changes nothing for 7001.
    db.execute("UPDATE orchestrator.workflow_runs SET status = 'succeeded' WHERE id = %s", (other,))
    assert _tick(dagster_instance) == []
    db.execute("UPDATE orchestrator.workflow_runs SET status = 'succeeded' WHERE id = %s", (first,))
    # Free now, but its workflow's batch run has not ended: it waits for the next batch rather
    # than start alone beside it (another process spending the same vendor budget).
    assert _tick(dagster_instance) == []
    db.execute("UPDATE orchestrator.run_batches SET finished_at = now()")
    (next_run,) = _tick(dagster_instance)
    assert _config(next_run)["workflow_run_id"] == later  # alone: the only one due


def batch_id(db: psycopg.Connection[Any], workflow_run_id: int) -> int:
    row = db.execute(
        "SELECT batch_id FROM orchestrator.workflow_runs WHERE id = %s", (workflow_run_id,)
    ).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


OPERATOR = Decider(
    identity="user:ops@harborlabs.example", email="ops@harborlabs.example", role="admin"
)


def test_a_decided_approval_holds_its_object_until_its_continuation_runs(
    batching: None,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
) -> None:
    # Deal 5002's procurement run parks at an approval (recorded as the runner records it).
    parked_id, approval = _park_deal_at_approval(dagster_instance, database_url, db)
    # A pending approval does not hold the deal: its later change is launched.
    _change_deal_amount(database_url, "130000", hours_later=1)
    (later,) = _tick(dagster_instance)
    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'succeeded' WHERE id = %s",
        (_config(later)["workflow_run_id"],),
    )

    # Decided: the next change of the deal waits until the continuation has taken over.
    decide_approval(database_url, approval.id, verdict="approve", decider=OPERATOR)
    _change_deal_amount(database_url, "140000", hours_later=2)
    assert _tick(dagster_instance) == []
    (continuation,) = list(
        approval_sensor(dg.build_sensor_context(instance=dagster_instance)) or []
    )
    assert continuation.run_key == f"approval:{approval.id}"
    assert continuation.tags["dagster/priority"] == "10"
    assert _tick(dagster_instance) == []
    runs.begin_attempt(
        db,
        workflow_run_id=parked_id,
        dagster_run_id="dagster-2",
        job_name="test",
        kind="continuation",
    )
    assert _tick(dagster_instance) == []  # running now
    runs.finish(
        db,
        workflow_run_id=parked_id,
        dagster_run_id="dagster-2",
        outcome="purchase_order_created",
        message="",
        state_summary={},
    )
    (last,) = _tick(dagster_instance)
    assert _config(last)["workflow_run_id"] > _config(later)["workflow_run_id"]


def test_a_continuation_waits_while_another_run_of_its_object_is_in_flight(
    batching: None,
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
) -> None:
    _, approval = _park_deal_at_approval(dagster_instance, database_url, db)
    _change_deal_amount(database_url, "130000", hours_later=1)
    (later,) = _tick(dagster_instance)  # launched: the approval is still pending
    decide_approval(database_url, approval.id, verdict="approve", decider=OPERATOR)

    def continuations() -> list[dg.RunRequest]:
        context = dg.build_sensor_context(instance=dagster_instance)
        return list(approval_sensor(context) or [])

    assert continuations() == []  # the later run was launched and has not finished
    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'succeeded' WHERE id = %s",
        (_config(later)["workflow_run_id"],),
    )
    (continuation,) = continuations()
    assert continuation.run_key == f"approval:{approval.id}"
