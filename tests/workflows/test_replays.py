"""Replays through the API, driven like the Dagster op drives runs: the dry-run plan changes
nothing; a replay re-applies idempotent upserts and never repeats a Notion page, a calendar
event, a purchase order or a budget commitment; selections pick exactly the right events; the
runs are linked to what they replay and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from orchestrator_core.records.launches import BatchSpec, RunRequestSpec, due_launches
from orchestrator_defs.runtime.runner import WorkflowFailed
from sensors.events import batch_request, run_tags
from tests.conftest import JWT_SECRET
from tests.support import signed_in
from tests.vendor_sandbox import BASE_ID, airtable_for, sandbox_config
from tests.workflows.conftest import WorkflowHarness, event

ACCOUNTS = f"/v0/{BASE_ID}/Accounts"
OPERATOR = "olive@harborlabs.example"


@pytest.fixture
def api(client: TestClient, db: psycopg.Connection[Any]) -> TestClient:
    client.headers.update(signed_in(db, OPERATOR, "operator", secret=JWT_SECRET))
    return client


def _count_rows(db: psycopg.Connection[Any]) -> dict[str, int]:
    tables = [
        name
        for (name,) in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'orchestrator'"
            " AND tablename <> 'alembic_version' ORDER BY 1"
        )
    ]
    counts = {t: db.execute(f"SELECT count(*) FROM orchestrator.{t}").fetchone()[0] for t in tables}  # type: ignore[index]
    counts["statuses"] = hash(
        tuple(db.execute("SELECT id, status FROM orchestrator.event_envelopes ORDER BY id"))
    )
    return counts


def _drive_replayed(harness: WorkflowHarness) -> list[int]:
    """One event-sensor pass, then drive every run it launches; returns their ids."""
    specs = harness.dispatch()
    for spec in specs:
        harness.drive(spec.workflow_run_id)
    return [spec.workflow_run_id for spec in specs]


def _writes_to(harness: WorkflowHarness, vendor: str, method: str, suffix: str) -> int:
    return sum(
        1
        for r in harness.sandbox.requests(vendor)
        if r["method"] == method and r["path"].endswith(suffix)
    )


def _purchase_order_writes(harness: WorkflowHarness) -> int:
    return sum(
        1
        for r in harness.sandbox.requests("airtable")
        if r["method"] in ("POST", "PATCH") and "Purchase" in r["path"]
    )


def _audit(db: psycopg.Connection[Any], action: str) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM orchestrator.audit_log WHERE action = %s ORDER BY seq", (action,)
        ).fetchall()


def test_a_dry_run_changes_nothing_and_says_what_a_replay_would_do(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    run = harness.start([event("company.creation", 9001)], "company_intake")
    assert harness.drive(run).outcome == "mirrored"
    rows_before = _count_rows(db)
    requests_before = {v: len(harness.sandbox.requests(v)) for v in ("airtable", "notion")}

    answer = api.post("/api/replays", json={"envelope_ids": run.envelope_ids, "dry_run": True})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dry_run"] is True and body["replay"] is None
    (planned,) = body["plan"]["runs"]
    assert (planned["workflow"], planned["replay_of"], planned["previous_status"]) == (
        "company_intake",
        run.id,
        "succeeded",
    )
    actions = {w["step"]: w["action"] for w in planned["writes"]}
    assert actions == {"mirror_account": "reapply", "attach_sop": "reuse", "link_sop": "reapply"}
    sop = next(w for w in planned["writes"] if w["step"] == "attach_sop")
    assert sop["external_id"]  # the Notion page it will reuse
    assert body["plan"]["counts"] == {
        "events_selected": 1,
        "events_skipped": 0,
        "runs": 1,
        "writes_reused": 1,
        "writes_reapplied": 2,
        "writes_new": 0,
    }
    assert _count_rows(db) == rows_before
    assert {v: len(harness.sandbox.requests(v)) for v in ("airtable", "notion")} == requests_before


def test_a_replay_reapplies_the_airtable_upsert_once_and_makes_no_second_notion_page(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    run = harness.start([event("company.creation", 9001)], "company_intake")
    harness.drive(run)
    pages_before = _writes_to(harness, "notion", "POST", "/v1/pages")
    upserts_before = _writes_to(harness, "airtable", "PATCH", ACCOUNTS)
    # Someone edits the mirror by hand; the replay puts HubSpot's values back.
    airtable = airtable_for(harness.sandbox)
    airtable.upsert_records(table="Accounts", records=[{"HubSpot ID": "9001", "Name": "Hand"}])
    airtable.close()
    upserts_before += 1

    answer = api.post("/api/replays", json={"envelope_ids": run.envelope_ids})

    assert answer.status_code == 202, answer.text
    replay = answer.json()["replay"]
    assert answer.headers["location"] == f"/api/replays/{replay['id']}"
    assert replay["progress"] == {
        "runs": 1,
        "by_status": {"requested": 1},
        "finished": 0,
        "done": False,
    }
    (replayed,) = _drive_replayed(harness)
    again = harness.get_run(replayed)
    assert (again.status, again.outcome, again.replay_of, again.replay_id) == (
        "succeeded",
        "mirrored",
        run.id,
        replay["id"],
    )
    assert again.thread_id != run.thread_id
    # the two upserts of the Accounts row (the mirror, the SOP link), each once
    assert _writes_to(harness, "airtable", "PATCH", ACCOUNTS) == upserts_before + 2
    assert [(e["step"], e["attempts"]) for e in harness.side_effects(again.thread_id)] == [
        ("mirror_account", 1),
        ("link_sop", 1),
    ]
    assert _writes_to(harness, "notion", "POST", "/v1/pages") == pages_before
    accounts = harness.sandbox.inspect(f"airtable/{BASE_ID}/Accounts")["records"]
    (account,) = [a for a in accounts if a["fields"]["HubSpot ID"] == "9001"]
    assert account["fields"]["Name"] == "Northwind Traders"
    progress = api.get(f"/api/replays/{replay['id']}").json()["progress"]
    assert progress == {"runs": 1, "by_status": {"succeeded": 1}, "finished": 1, "done": True}
    envelope = api.get(f"/api/events/{run.envelope_ids[0]}").json()
    assert envelope["status"] == "processed"
    (listed,) = api.get("/api/runs", params={"replay_id": replay["id"]}).json()["items"]
    assert (listed["id"], listed["replay_of"], listed["retries"]) == (replayed, run.id, 0)


def test_a_replay_of_a_failed_run_processes_its_event(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    run = harness.start([event("company.creation", 9001)], "company_intake")
    harness.sandbox.configure(sandbox_config(notion={"faults": {"error_500_share": 1.0}}))
    with pytest.raises(WorkflowFailed):
        harness.drive(run)
    harness.sandbox.configure(sandbox_config())
    assert harness.get_run(run.id).status == "failed"
    assert api.get(f"/api/events/{run.envelope_ids[0]}").json()["status"] == "failed"

    answer = api.post(
        "/api/replays",
        json={"since": "2000-01-01T00:00:00Z", "statuses": ["failed"]},
    )

    assert answer.status_code == 202, answer.text
    (replayed,) = _drive_replayed(harness)
    assert harness.get_run(replayed).status == "succeeded"
    assert api.get(f"/api/events/{run.envelope_ids[0]}").json()["status"] == "processed"


def test_a_time_range_with_filters_selects_exactly_the_right_events(
    harness: WorkflowHarness, api: TestClient
) -> None:
    now = datetime.now(UTC)
    old = int((now - timedelta(days=3)).timestamp() * 1000)
    recent = int((now - timedelta(hours=2)).timestamp() * 1000)
    ids = harness.ingest(
        [
            event("company.creation", 9001, occurredAt=old),
            event("company.creation", 9002, occurredAt=recent),
            event("contact.creation", 7001, occurredAt=recent),
            event(
                "company.propertyChange",
                9003,
                occurredAt=recent,
                propertyName="phone",
                propertyValue="1",
            ),
        ]
    )
    for spec in harness.dispatch():
        harness.drive(spec.workflow_run_id)

    answer = api.post(
        "/api/replays",
        json={
            "since": (now - timedelta(days=1)).isoformat(),
            "until": now.isoformat(),
            "subscription_types": ["company.creation", "company.propertyChange"],
            "workflows": ["company_intake"],
            "dry_run": True,
        },
    )

    assert answer.status_code == 200, answer.text
    plan = answer.json()["plan"]
    assert [run["envelope_ids"] for run in plan["runs"]] == [[ids[1]]]
    # the phone change is selected but routes to no workflow under the policy
    assert plan["skipped"] == [{"envelope_id": ids[3], "reason": plan["skipped"][0]["reason"]}]
    assert "not routed" in plan["skipped"][0]["reason"]
    assert plan["counts"]["events_selected"] == 2


def test_a_replay_of_a_scheduled_kickoff_creates_no_second_calendar_event(
    harness: WorkflowHarness, api: TestClient
) -> None:
    run = harness.start(
        [
            event(
                "deal.propertyChange", 5001, propertyName="dealstage", propertyValue="contractsent"
            )
        ],
        "deal_kickoff",
    )
    parked = harness.drive(run)
    (approval,) = parked.approvals
    harness.drive(run, decision=harness.decide(approval))
    assert harness.get_run(run.id).outcome == "kickoff_scheduled"
    events_before = _writes_to(harness, "google", "POST", "/events")
    assert events_before == 1

    plan = api.post(
        "/api/replays", json={"envelope_ids": run.envelope_ids, "dry_run": True}
    ).json()["plan"]
    assert {w["step"]: w["action"] for w in plan["runs"][0]["writes"]}["create_event"] == "reuse"
    answer = api.post("/api/replays", json={"envelope_ids": run.envelope_ids})
    assert answer.status_code == 202, answer.text
    for replayed in _drive_replayed(harness):
        result = harness.get_run(replayed)
        if result.status == "awaiting_approval":  # the policy asks again: approve it
            pending = harness.db.execute(
                "SELECT id FROM orchestrator.approvals WHERE workflow_run_id = %s"
                " AND status = 'pending'",
                (replayed,),
            ).fetchone()
            assert pending is not None
            harness.drive(replayed, decision=harness.decide(pending[0]))

    assert _writes_to(harness, "google", "POST", "/events") == events_before


def test_a_replayed_procurement_reuses_its_purchase_order_and_budget_commitment(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    run = harness.start([event("deal.creation", 5001)], "procurement_approval")
    parked = harness.drive(run)
    (approval,) = parked.approvals
    harness.drive(run, decision=harness.decide(approval))
    assert harness.get_run(run.id).status == "succeeded"
    orders = db.execute("SELECT purchase_order FROM orchestrator.budget_commitments").fetchall()
    assert len(orders) == 1
    po_writes = _purchase_order_writes(harness)
    assert po_writes == 1

    assert api.post("/api/replays", json={"envelope_ids": run.envelope_ids}).status_code == 202
    (replayed,) = _drive_replayed(harness)
    again = harness.get_run(replayed)
    if again.status == "awaiting_approval":
        pending = db.execute(
            "SELECT id FROM orchestrator.approvals WHERE workflow_run_id = %s", (replayed,)
        ).fetchone()
        assert pending is not None
        harness.drive(replayed, decision=harness.decide(pending[0]))
    assert harness.get_run(replayed).status == "succeeded"
    assert (
        db.execute("SELECT purchase_order FROM orchestrator.budget_commitments").fetchall()
        == orders
    )
    assert _purchase_order_writes(harness) == po_writes
    orders_table = harness.sandbox.inspect(f"airtable/{BASE_ID}/Purchase Orders")["records"]
    assert len(orders_table) == 1
    reused = db.execute(
        "SELECT step FROM orchestrator.side_effects WHERE reused_from IS NOT NULL"
    ).fetchall()
    assert ("create_purchase_order",) in reused


def test_replays_are_audited_with_actor_selection_and_counts(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    run = harness.start([event("company.creation", 9001)], "company_intake")
    harness.drive(run)

    replay = api.post("/api/replays", json={"envelope_ids": run.envelope_ids}).json()["replay"]

    (row,) = _audit(db, "replay.started")
    assert row["actor"] == f"user:{OPERATOR}"
    assert row["entity_id"] == str(replay["id"])
    assert row["after"]["selection"]["envelope_ids"] == run.envelope_ids
    assert row["after"]["counts"]["runs"] == 1
    launched = [r for r in _audit(db, "run.launched") if r["after"].get("replay_id")]
    assert [r["after"]["replay_id"] for r in launched] == [replay["id"]]


def test_events_whose_run_is_still_in_progress_are_not_replayed(
    harness: WorkflowHarness, api: TestClient
) -> None:
    run = harness.start([event("company.creation", 9001)], "company_intake")  # requested

    answer = api.post("/api/replays", json={"envelope_ids": run.envelope_ids})

    assert answer.status_code == 409
    body = answer.json()["error"]
    assert body["code"] == "nothing_to_replay"
    assert f"run {run.id} is still requested" in body["message"]


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ({}, "empty_selection", "envelope_ids, objects or a time range"),
        ({"since": "2026-12-01T00:00:00"}, "invalid_request", "timezone"),
        (
            {"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
            "invalid_selection",
            "until must be after since",
        ),
        (
            {"envelope_ids": [1], "statuses": ["lost"]},
            "invalid_selection",
            "unknown envelope status lost",
        ),
        (
            {"envelope_ids": [1], "workflows": ["payroll"]},
            "invalid_selection",
            "unknown workflow payroll",
        ),
        ({"envelope_ids": [2**63]}, "invalid_request", "less than or equal"),
        ({"envelope_ids": [1], "extra": 1}, "invalid_request", "Extra inputs"),
    ],
)
def test_a_bad_selection_is_refused_naming_the_problem(
    api: TestClient, body: dict[str, Any], code: str, fragment: str
) -> None:
    answer = api.post("/api/replays", json=body)

    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert fragment in answer.text


def test_an_unknown_replay_is_404(api: TestClient) -> None:
    answer = api.get("/api/replays/12345")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "no replay with id 12345"


def test_replays_are_launched_with_their_replay_tags(
    harness: WorkflowHarness, api: TestClient
) -> None:

    run = harness.start([event("company.creation", 9001)], "company_intake")
    harness.drive(run)
    replay = api.post("/api/replays", json={"envelope_ids": run.envelope_ids}).json()["replay"]

    (spec,) = harness.dispatch()

    assert isinstance(spec, RunRequestSpec)
    tags = run_tags(spec)
    assert tags["orchestrator/replay_id"] == str(replay["id"])
    assert tags["orchestrator/replay_of"] == str(run.id)
    assert (
        spec.dagster_run_key
        == spec.run_key
        == f"company_intake:replay-{replay['id']}-{run.envelope_ids[0]}"
    )


def test_a_large_replay_goes_through_batch_runs_tagged_with_the_replay(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    harness.ingest([event("company.creation", 9100 + n) for n in range(12)])
    harness.dispatch()
    db.execute("UPDATE orchestrator.workflow_runs SET status = 'succeeded', outcome = 'mirrored'")

    replay = api.post(
        "/api/replays",
        json={"objects": [{"object_type": "company", "object_id": 9100 + n} for n in range(12)]},
    ).json()["replay"]
    launches = due_launches(
        db,
        limit=100,
        again_after_seconds=60,
        batch_max=5,
        batches_in_flight=2,
        batch_concurrency=2,
    )

    assert [len(b.workflow_run_ids) for b in launches if isinstance(b, BatchSpec)] == [5, 5]
    assert all(isinstance(b, BatchSpec) for b in launches)
    request = batch_request(launches[0])  # type: ignore[arg-type]
    assert request.tags["orchestrator/replay_id"] == str(replay["id"])
    progress = api.get(f"/api/replays/{replay['id']}").json()["progress"]
    assert progress == {"runs": 12, "by_status": {"requested": 12}, "finished": 0, "done": False}
