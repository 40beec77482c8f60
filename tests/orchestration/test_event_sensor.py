"""The event sensor against real envelope rows: routing by the policy, coalescing of correlated
events, run keys, tags and config, bounded pages, late-committing rows, re-asking for runs
whose request was lost, and a disabled workflow. Here every run is launched on its own
(batching switched off); batches are in test_batches.py."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import psycopg
import pytest

from orchestrator_core.records import runs
from orchestrator_core.settings import get_settings
from orchestrator_defs import tags
from sensors import events as event_sensor_module
from sensors.events import hubspot_event_sensor
from tests.support import hubspot_event, ingest_events

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "webhooks"


@pytest.fixture(autouse=True)
def lone_runs(dagster_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Batching off: every due run gets a Dagster run of its own."""
    monkeypatch.setenv("ORCHESTRATOR_BATCH_MAX", "1")
    get_settings.cache_clear()


def _tick(instance: dg.DagsterInstance, cursor: str | None = None) -> tuple[list[Any], str | None]:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    requests = list(hubspot_event_sensor(context) or [])
    return requests, context.cursor


def _ingest_samples(database_url: str, *names: str) -> dict[int, int]:
    """Envelope id by HubSpot eventId."""
    by_event: dict[int, int] = {}
    for name in names:
        events = orjson.loads((SAMPLES / name).read_bytes())
        for event, envelope_id in zip(events, ingest_events(database_url, events), strict=True):
            by_event[event["eventId"]] = envelope_id
    return by_event


def _statuses(db: psycopg.Connection[Any]) -> dict[int, tuple[str, str | None]]:
    rows = db.execute(
        "SELECT event_id, status, status_reason FROM orchestrator.event_envelopes"
    ).fetchall()
    return {event_id: (status, reason) for event_id, status, reason in rows}


def test_routes_coalesces_and_requests_one_run_per_workflow_run(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    ids = _ingest_samples(
        database_url,
        "01-companies-created.json",
        "02-contacts-and-associations.json",
        "03-deal-stage-and-amount.json",
    )
    requests, cursor = _tick(dagster_instance)

    by_key = {r.run_key: r for r in requests}
    expected = {
        f"company_intake:{ids[1000001]}": [1000001],
        f"company_intake:{ids[1000005]}": [1000005],
        f"company_intake:{ids[1000028]}": [1000028],
        f"contact_role_mapping:{ids[1000008]}": [1000008, 1000009],  # coalesced
        f"contact_role_mapping:{ids[1000010]}": [1000010, 1000011],
        f"contact_role_mapping:{ids[1000012]}": [1000012],
        f"procurement_approval:{ids[1000015]}": [1000015, 1000017],  # creation + amount
        f"procurement_approval:{ids[1000018]}": [1000018],
    }
    # One run per deal at a time, in order: each deal's kickoff waits for its procurement run.
    held_back = {
        f"deal_kickoff:{ids[1000016]}": [1000016],
        f"deal_kickoff:{ids[1000019]}": [1000019],
    }
    assert set(by_key) == set(expected)
    for key, event_ids in expected.items():
        request = by_key[key]
        workflow = key.split(":")[0]
        assert request.job_name == workflow
        config = request.run_config["ops"][f"run_{workflow}"]["config"]
        assert config["envelope_ids"] == [ids[e] for e in event_ids]
        assert request.tags["hubspot/event_id"] == ",".join(map(str, event_ids))
        assert request.tags["workflow"] == workflow
        assert request.tags["policy/version"] == "2026-11-25.1"
        assert request.tags["langgraph/thread_id"].startswith(f"{workflow}/")
        run_id = int(request.tags["orchestrator/workflow_run_id"])
        assert config["workflow_run_id"] == run_id
        row = db.execute(
            "SELECT workflow, run_key, status, envelope_ids FROM orchestrator.workflow_runs"
            " WHERE id = %s",
            (run_id,),
        ).fetchone()
        assert row == (workflow, key, "requested", [ids[e] for e in event_ids])
    deal = by_key[f"procurement_approval:{ids[1000018]}"]
    assert deal.tags["hubspot/object_type"] == "deal"  # generic object.* resolved
    assert deal.tags["hubspot/object_id"] == "5002"
    assert deal.tags["orchestrator/object"] == "deal-5002"

    for key, event_ids in held_back.items():
        row = db.execute(
            "SELECT status, last_requested_at, envelope_ids FROM orchestrator.workflow_runs"
            " WHERE run_key = %s",
            (key,),
        ).fetchone()
        assert row == ("requested", None, [ids[e] for e in event_ids])

    statuses = _statuses(db)
    for event_id in (1000001, 1000008, 1000009, 1000015, 1000016, 1000017, 1000019):
        assert statuses[event_id][0] == "dispatched"
    # Property changes the policy does not watch, and association changes, are unrouted with
    # the reason.
    assert statuses[1000003] == (
        "unrouted",
        "company.propertyChange of property 'domain' is not routed"
        " (routed properties: lifecyclestage, type)",
    )
    assert statuses[1000013][0] == "unrouted"
    assert "no routing rule for contact.associationChange" in str(statuses[1000013][1])
    assert json.loads(cursor or "{}")["last_envelope_id"] == max(ids.values())

    # Each workflow run created is on the audit log once, with its run key and envelopes (the
    # held-back ones too: they exist, and wait).
    launched = db.execute(
        "SELECT entity_id, after->>'run_key', after->'envelope_ids', policy_version"
        " FROM orchestrator.audit_log WHERE action = 'run.launched'"
    ).fetchall()
    assert {key for _, key, _, _ in launched} == set(expected) | set(held_back)
    assert sorted(row for row in launched if row[1] in expected) == sorted(
        (
            r.tags["orchestrator/workflow_run_id"],
            r.run_key,
            r.run_config["ops"][f"run_{r.job_name}"]["config"]["envelope_ids"],
            "2026-11-25.1",
        )
        for r in requests
    )

    # The next tick finds nothing to route and nothing to ask for again, and audits nothing.
    (last_audit,) = db.execute("SELECT max(id) FROM orchestrator.audit_log").fetchone() or ()
    again, _ = _tick(dagster_instance, cursor)
    assert again == []
    assert db.execute("SELECT max(id) FROM orchestrator.audit_log").fetchone() == (last_audit,)


def test_a_lost_request_is_asked_for_again_with_the_same_run_key(
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    first, cursor = _tick(dagster_instance)
    assert len(first) == 1
    # The daemon crashed before submitting the run: it never started. Once the re-ask delay
    # has passed, the same run key is asked for again (the daemon dedups on it).
    db.execute("UPDATE orchestrator.workflow_runs SET last_requested_at = now() - interval '1 h'")
    second, _ = _tick(dagster_instance, cursor)
    assert [r.run_key for r in second] == [first[0].run_key]
    assert second[0].run_config == first[0].run_config
    # A run that started is never asked for again.
    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'running',"
        " last_requested_at = now() - interval '1 h'"
    )
    third, _ = _tick(dagster_instance, cursor)
    assert third == []


def test_a_retried_run_gets_a_new_run_key_and_a_replay_its_tags(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    (first,), cursor = _tick(dagster_instance)
    db.execute("UPDATE orchestrator.workflow_runs SET status = 'failed'")

    async def retry() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await runs.request_retry(conn, workflow_run_id=1, actor="user:o@x", reason="test")

    asyncio.run(retry())
    (retried,), cursor = _tick(dagster_instance, cursor)

    # the daemon dedups on run keys: a retry is a new key for the same workflow run
    assert retried.run_key == f"{first.run_key}#retry-1"
    assert retried.tags["orchestrator/retry"] == "1"
    assert retried.tags[tags.WORKFLOW_RUN_TAG] == first.tags[tags.WORKFLOW_RUN_TAG]
    assert retried.run_config == first.run_config


def test_an_envelope_committed_late_is_not_skipped(
    dagster_instance: dg.DagsterInstance, database_url: str, db: psycopg.Connection[Any]
) -> None:
    # Transaction A takes an id and commits only after transaction B (a larger id) committed
    # and a tick ran: a pure `id > cursor` scan would skip A's row forever.
    started = threading.Event()
    release = threading.Event()

    def slow_insert() -> None:
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "INSERT INTO orchestrator.webhook_deliveries (id, signature_version, event_count,"
                " stored_count, duplicate_count, rejected_count)"
                " VALUES ('00000000-0000-0000-0000-00000000000a', 'v3', 1, 1, 0, 0)"
            )
            conn.execute(
                "INSERT INTO orchestrator.event_envelopes (portal_id, event_id, content_hash,"
                " subscription_type, object_type, object_id, occurred_at, attempt_number,"
                " last_attempt_number, correlation_id, delivery_id, status, payload)"
                " VALUES (62515, 1, 'late', 'company.creation', 'company', 9002, now(), 0, 0,"
                " gen_random_uuid(), '00000000-0000-0000-0000-00000000000a', 'received', '{}')"
            )
            started.set()
            release.wait(30)
            conn.commit()

    writer = threading.Thread(target=slow_insert)
    writer.start()
    assert started.wait(30)
    (later,) = ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    first, cursor = _tick(dagster_instance)
    assert [r.tags["hubspot/object_id"] for r in first] == ["9001"]
    release.set()
    writer.join(30)

    second, _ = _tick(dagster_instance, cursor)
    assert [r.tags["hubspot/object_id"] for r in second] == ["9002"]
    late_id = int(second[0].run_config["ops"]["run_company_intake"]["config"]["envelope_ids"][0])
    assert late_id < later


def test_ticks_are_bounded_pages(
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_sensor_module, "ENVELOPES_PER_TICK", 5)
    monkeypatch.setattr(event_sensor_module, "RUN_REQUESTS_PER_TICK", 4)
    ingest_events(
        database_url,
        [hubspot_event("company.creation", objectId=9000 + i) for i in range(1, 8)],
    )
    sizes = []
    cursor = None
    for _ in range(4):
        requests, cursor = _tick(dagster_instance, cursor)
        sizes.append(len(requests))
    assert sizes == [4, 3, 0, 0]


def test_a_disabled_workflow_leaves_its_events_unrouted(
    dagster_instance: dg.DagsterInstance,
    database_url: str,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from orchestrator_core.settings import DEFAULT_POLICY_PATH, get_settings

    policy = DEFAULT_POLICY_PATH.read_text().replace(
        "  company_intake:\n    enabled: true", "  company_intake:\n    enabled: false", 1
    )
    path = tmp_path / "policy.yaml"
    path.write_text(policy)
    monkeypatch.setenv("POLICY_PATH", str(path))
    get_settings.cache_clear()

    ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    requests, _ = _tick(dagster_instance)
    assert requests == []
    ((status, reason),) = db.execute(
        "SELECT status, status_reason FROM orchestrator.event_envelopes"
    ).fetchall()
    assert status == "unrouted"
    assert reason == "workflow company_intake disabled in policy workflows"
