"""Rows of the tables the queue reads, written directly (the queue's API and CLI tests)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg

Conn = psycopg.Connection[Any]

DELIVERY_ID = uuid.UUID("00000000-0000-4000-8000-000000000011")
_numbers = itertools.count(1)


def _id(row: Any) -> int:
    assert row is not None
    return int(row[0])


def add_envelope(db: Conn, status: str, *, age_seconds: float = 0) -> int:
    """An envelope with `status`, received `age_seconds` ago on the database's clock."""
    db.execute(
        "INSERT INTO orchestrator.webhook_deliveries (id, signature_version, event_count,"
        " stored_count, duplicate_count, rejected_count) VALUES (%s, 'v3', 1, 1, 0, 0)"
        " ON CONFLICT DO NOTHING",
        (DELIVERY_ID,),
    )
    number = next(_numbers)
    return _id(
        db.execute(
            "INSERT INTO orchestrator.event_envelopes (portal_id, event_id, content_hash,"
            " subscription_type, object_type, object_id, occurred_at, attempt_number,"
            " last_attempt_number, correlation_id, delivery_id, status, payload, received_at)"
            " VALUES (62515, %s, %s, 'company.creation', 'company', %s,"
            " now() - make_interval(secs => %s), 0, 0, gen_random_uuid(), %s, %s, '{}',"
            " now() - make_interval(secs => %s)) RETURNING id",
            (number, f"hash-{number}", number, age_seconds, DELIVERY_ID, status, age_seconds),
        ).fetchone()
    )


def add_run(db: Conn, workflow: str, status: str) -> int:
    number = next(_numbers)
    return _id(
        db.execute(
            "INSERT INTO orchestrator.workflow_runs (run_key, workflow, thread_id, object_type,"
            " object_id, trigger, status, policy_version, policy_hash)"
            " VALUES (%s, %s, %s, 'company', %s, '{}', %s, 'test', 'test') RETURNING id",
            (f"key-{number}", workflow, f"thread-{number}", number, status),
        ).fetchone()
    )


def add_batch(
    db: Conn,
    workflow: str,
    run_ids: Sequence[int],
    *,
    started: bool = False,
    finished: bool = False,
    phase: str = "start",
) -> int:
    """A batch of these workflow runs (their `batch_id` set), asked for now."""
    batch_id = _id(
        db.execute(
            "INSERT INTO orchestrator.run_batches (workflow, phase, workflow_run_ids,"
            " dagster_run_id, started_at, finished_at)"
            " VALUES (%s, %s, %s, %s, CASE WHEN %s THEN now() END, CASE WHEN %s THEN now() END)"
            " RETURNING id",
            (
                workflow,
                phase,
                list(run_ids),
                f"dg-batch-{next(_numbers)}" if started or finished else None,
                started or finished,
                finished,
            ),
        ).fetchone()
    )
    db.execute(
        "UPDATE orchestrator.workflow_runs SET batch_id = %s WHERE id = ANY(%s)",
        (batch_id, list(run_ids)),
    )
    return batch_id


def add_approval(db: Conn, workflow_run_id: int, status: str = "pending") -> int:
    return _id(
        db.execute(
            "INSERT INTO orchestrator.approvals (workflow_run_id, workflow, thread_id,"
            " interrupt_id, kind, proposal, reason, policy_snapshot, policy_version, policy_hash,"
            " approver_role, due_at, status)"
            " SELECT id, workflow, thread_id, %s, 'kickoff', '{}', 'a test', '{}', 'test', 'test',"
            " 'operator', now() + interval '1 day', %s FROM orchestrator.workflow_runs"
            " WHERE id = %s RETURNING id",
            (f"interrupt-{next(_numbers)}", status, workflow_run_id),
        ).fetchone()
    )


def busy_queue(db: Conn) -> dict[str, Any]:
    """A queue with some of everything, and what a reading of it must say.

    Envelopes: 3 received and 2 dispatched waiting (the oldest, 600 s, is a dispatched one),
    older ones done in every other status. Runs of company_intake: 3 requested (2 in a batch),
    1 running (in a batch), 1 parked, 1 succeeded; of contact_role_mapping: 1 requested,
    2 running, 1 failed. Batches: one started (the running run and a requested one), one
    waiting (a requested one), one finished (the succeeded run). Approvals: 1 pending of the
    parked run, 1 approved."""
    for status, age in (
        ("processed", 9000),
        ("unrouted", 8000),
        ("failed", 7000),
        ("awaiting_approval", 6500),
    ):
        add_envelope(db, status, age_seconds=age)
    oldest = add_envelope(db, "dispatched", age_seconds=600)
    add_envelope(db, "received", age_seconds=400)
    add_envelope(db, "dispatched", age_seconds=300)
    add_envelope(db, "received", age_seconds=200)
    add_envelope(db, "received", age_seconds=100)
    newest = add_envelope(db, "processed", age_seconds=50)

    requested = [add_run(db, "company_intake", "requested") for _ in range(3)]
    running = add_run(db, "company_intake", "running")
    parked = add_run(db, "company_intake", "awaiting_approval")
    succeeded = add_run(db, "company_intake", "succeeded")
    add_run(db, "contact_role_mapping", "requested")
    add_run(db, "contact_role_mapping", "running")
    add_run(db, "contact_role_mapping", "running")
    add_run(db, "contact_role_mapping", "failed")

    finished = add_batch(db, "company_intake", [succeeded], finished=True)
    started = add_batch(db, "company_intake", [running, requested[0]], started=True)
    waiting = add_batch(db, "company_intake", [requested[1]])
    add_approval(db, parked, "pending")
    add_approval(db, succeeded, "approved")
    return {
        "oldest_envelope": oldest,
        "newest_envelope": newest,
        "batches": {"started": started, "waiting": waiting, "finished": finished},
    }


def drain(db: Conn) -> None:
    """Everything in the queue done: envelopes processed, runs succeeded, batches finished."""
    db.execute(
        "UPDATE orchestrator.event_envelopes SET status = 'processed'"
        " WHERE status IN ('received', 'dispatched')"
    )
    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'succeeded'"
        " WHERE status IN ('requested', 'running')"
    )
    db.execute(
        "UPDATE orchestrator.run_batches SET started_at = coalesce(started_at, now()),"
        " finished_at = now() WHERE finished_at IS NULL"
    )
