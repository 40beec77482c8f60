"""A reconciliation pass against the sandbox over real HTTP, after real workflow runs: each
kind of difference made by hand (or by a workflow failing for good) becomes the right drift
with the right cause; a second pass sees the same drifts again; a repair starts a replay
whose run fixes the mirror, and the next pass resolves the drift."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from pyairtable import Api

from orchestrator_core.reconciliation.passes import run_pass
from orchestrator_core.reconciliation.sources import Readers
from orchestrator_defs.runtime.runner import WorkflowFailed
from orchestrator_defs.workflows import company_intake
from tests.support import ApiUsers
from tests.vendor_sandbox import BASE_ID, CANARY, SandboxServer, sandbox_config
from tests.workflows.conftest import WorkflowHarness, event

ACTOR = "cli:test"


def accounts_table(sandbox: SandboxServer) -> Any:
    """Airtable as a person edits it (pyairtable, like any other client)."""
    return Api(CANARY, endpoint_url=sandbox.vendor_url("airtable")).table(BASE_ID, "Accounts")


def record_of(sandbox: SandboxServer, company_id: str) -> dict[str, Any]:
    records = sandbox.inspect(f"airtable/{BASE_ID}/Accounts")["records"]
    (record,) = [r for r in records if r["fields"].get("HubSpot ID") == company_id]
    return dict(record)


def drifts(db: psycopg.Connection[Any], target: str = "airtable/accounts") -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM orchestrator.drifts WHERE target = %s ORDER BY id", (target,)
        ).fetchall()


def one(
    rows: list[dict[str, Any]], kind: str, object_id: int | None, **match: Any
) -> dict[str, Any]:
    (row,) = [
        r
        for r in rows
        if r["kind"] == kind
        and r["object_id"] == object_id
        and all(r[k] == v for k, v in match.items())
    ]
    return row


@pytest.fixture
def mirrored(harness: WorkflowHarness) -> WorkflowHarness:
    """Companies 9001, 9002 and 9004 mirrored by the intake; 9003 held back by a data-quality
    exception (no domain); 9005's intake failed for good while Airtable answered 500; 9006
    never sent an event."""
    harness.graphs = {"company_intake": company_intake.build_graph}
    harness.ingest([event("company.creation", i) for i in (9001, 9002, 9003, 9004)])
    for spec in harness.dispatch():
        assert harness.drive(spec.workflow_run_id).status == "succeeded"
    harness.ingest([event("company.creation", 9005)])
    (failing,) = harness.dispatch()
    harness.sandbox.configure(sandbox_config(airtable={"faults": {"error_500_share": 1.0}}))
    with pytest.raises(WorkflowFailed):
        harness.drive(failing.workflow_run_id, final=True)
    harness.sandbox.configure(sandbox_config())
    return harness


def test_each_difference_becomes_the_right_drift_and_a_repair_fixes_it(
    mirrored: WorkflowHarness,
    readers: Readers,
    db: psycopg.Connection[Any],
    client: TestClient,
    api_users: ApiUsers,
) -> None:
    sandbox = mirrored.sandbox
    table = accounts_table(sandbox)
    time.sleep(1.2)  # past the clock margin after our writes: what follows is by hand
    edited = record_of(sandbox, "9001")
    table.update(edited["id"], {"City": "Portland"})
    deleted = record_of(sandbox, "9002")
    table.delete(deleted["id"])
    ours = record_of(sandbox, "9004")
    copy = table.create({"HubSpot ID": "9004", "Name": "Müller (copy)"})
    orphan = table.create({"HubSpot ID": "9999001", "Name": "Ghost Inc"})

    first = run_pass(db, readers, mirrored.policy, actor=ACTOR)

    rows = drifts(db)
    hand_edit = one(rows, "field_drift", 9001)
    assert (hand_edit["field"], hand_edit["hubspot_value"], hand_edit["downstream_value"]) == (
        "City",
        "Seattle",
        "Portland",
    )
    assert hand_edit["cause"] == "hand_edit"
    assert hand_edit["cause_details"]["change"] == "edited"
    # the mirrors the workflow wrote match HubSpot in every other compared field
    assert [(r["object_id"], r["field"]) for r in rows if r["kind"] == "field_drift"] == [
        (9001, "City")
    ]
    gone = one(rows, "missing_downstream", 9002)
    assert (gone["cause"], gone["cause_details"]["change"]) == ("hand_edit", "deleted")
    twins = one(rows, "duplicate_downstream", 9004)
    assert twins["cause"] == "created_downstream"
    assert (twins["cause_details"]["ours"], twins["cause_details"]["others"]) == (
        ours["id"],
        [copy["id"]],
    )
    ghost = one(rows, "orphan_downstream", 9999001)
    assert (ghost["downstream_id"], ghost["cause"]) == (orphan["id"], "created_downstream")
    held = one(rows, "missing_downstream", 9003)
    assert held["cause"] == "open_exception"
    assert held["cause_details"]["open_exception"]["kind"] == "data_quality"
    failed = one(rows, "missing_downstream", 9005)
    assert failed["cause"] == "workflow_failed"
    assert failed["cause_details"]["last_run"]["status"] == "failed"
    assert failed["cause_details"]["open_exception"]["kind"] == "retries_exhausted"
    never = one(rows, "missing_downstream", 9006)
    assert never["cause"] == "event_never_received"
    assert "orchestrator recover --since" in never["cause_details"]["suggestion"]
    assert {r["status"] for r in rows} == {"open"}
    assert first.counts["targets"]["airtable/accounts"]["kinds"]["field_drift"] == 1

    # A second pass sees the same drifts again, adds none.
    total = db.execute("SELECT count(*) FROM orchestrator.drifts").fetchone()
    second = run_pass(db, readers, mirrored.policy, actor=ACTOR)
    assert db.execute("SELECT count(*) FROM orchestrator.drifts").fetchone() == total
    assert (second.counts["added"], second.counts["resolved"]) == (0, 0)
    assert second.counts["seen_again"] == first.counts["found"]
    again = one(drifts(db), "field_drift", 9001)
    assert (again["id"], again["first_reconciliation_id"], again["last_reconciliation_id"]) == (
        hand_edit["id"],
        first.reconciliation_id,
        second.reconciliation_id,
    )
    assert again["last_seen_at"] > hand_edit["last_seen_at"]

    # What cannot be replayed is refused with the fix to apply instead.
    operator = api_users["operator"]
    for drift, code, says in (
        (ghost, "not_replayable", "delete the row by hand"),
        (twins, "not_replayable", "delete"),
        (never, "no_stored_event", "orchestrator recover --since"),
    ):
        answer = client.post(f"/api/drifts/{drift['id']}/repair", headers=operator)
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == code
        assert says in answer.json()["error"]["message"]

    # The hand edit is repaired by a replay of the company's events.
    answer = client.post(f"/api/drifts/{hand_edit['id']}/repair", headers=operator)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["drift"]["status"] == "repairing"
    assert body["drift"]["repair_replay_id"] == body["replay_id"]
    assert body["runs_started"] == 1
    with db.cursor(row_factory=dict_row) as cur:
        replay = cur.execute(
            "SELECT * FROM orchestrator.replays WHERE id = %s", (body["replay_id"],)
        ).fetchone()
        audit_row = cur.execute(
            "SELECT * FROM orchestrator.audit_log WHERE action = 'drift.repair_requested'"
        ).fetchone()
    assert replay is not None and replay["source"] == "drift"
    assert replay["selection"]["objects"] == [{"object_type": "company", "object_id": 9001}]
    assert audit_row is not None
    assert (audit_row["entity_id"], audit_row["actor"]) == (
        str(hand_edit["id"]),
        f"user:{api_users.emails['operator']}",
    )
    assert audit_row["after"]["replay_id"] == body["replay_id"]
    twice = client.post(f"/api/drifts/{hand_edit['id']}/repair", headers=operator)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_repairing")

    # The replayed run writes HubSpot's value again; the next pass no longer finds the drift.
    (replayed,) = mirrored.dispatch()
    assert mirrored.get_run(replayed.workflow_run_id).replay_id == body["replay_id"]
    assert mirrored.drive(replayed.workflow_run_id).status == "succeeded"
    assert record_of(sandbox, "9001")["fields"]["City"] == "Seattle"
    third = run_pass(db, readers, mirrored.policy, actor=ACTOR)
    fixed = next(r for r in drifts(db) if r["id"] == hand_edit["id"])
    assert (fixed["status"], fixed["resolution"]) == ("resolved", "no longer found")
    assert third.counts["resolved"] == 1
    # the others are still there
    assert one(drifts(db), "missing_downstream", 9002, status="open")["id"] == gone["id"]

    # Each remaining drift fixed the way it asks: the extra rows deleted by hand, the blocked
    # company given a domain (its exception's fix), the deleted row and the failed intake
    # repaired in bulk, the missing event delivered at last. Then a pass finds nothing of them
    # (what it still finds: the seed portal's companies the product never had an event of).
    table.delete(copy["id"])
    table.delete(orphan["id"])
    (exception,) = [e for e in mirrored.exceptions() if e["object_id"] == 9003]
    fix = client.post(
        f"/api/exceptions/{exception['id']}/actions/apply_value",
        json={"value": "globex.example"},
        headers=operator,
    )
    assert fix.status_code == 202, fix.text
    bulk = client.post(
        "/api/drifts/repair", json={"ids": [gone["id"], failed["id"]]}, headers=operator
    )
    assert bulk.status_code == 200, bulk.text
    mirrored.ingest([event("company.creation", 9006)])
    for spec in mirrored.dispatch():
        assert mirrored.drive(spec.workflow_run_id).status == "succeeded"

    last = run_pass(db, readers, mirrored.policy, actor=ACTOR)

    ours = {9001, 9002, 9003, 9004, 9005, 9006, 9999001}
    assert {r["status"] for r in drifts(db) if r["object_id"] in ours} == {"resolved"}
    with db.cursor(row_factory=dict_row) as cur:
        every = cur.execute("SELECT * FROM orchestrator.drifts").fetchall()
    still = [r for r in every if r["status"] != "resolved"]
    assert {r["cause"] for r in still} == {"event_never_received"}
    assert last.counts["found"] == len(still) and last.counts["added"] == 0
    assert db.execute(
        "SELECT status FROM orchestrator.exceptions WHERE id = %s", (exception["id"],)
    ).fetchone() == ("resolved",)
