"""Replay benchmark: the plan and the start of a replay of 10,000 stored events, and the first
batch launches they become.

On a fresh database (the embedded server unless DATABASE_URL is set), N company events are
stored as a finished company intake each: the envelope, its delivery, a succeeded workflow run
and its three ledger entries (the Accounts upsert, the SOP link, the per-company SOP page),
written by SQL (driving N real intakes would take the vendors' rate limits, not the replay,
as the measure). Then, timed:

- the dry-run plan of a replay of all of them (`plan_replay`, what `POST /api/replays` with
  `dry_run` and `orchestrator replay --dry-run` do): selection, routing, the earlier runs and
  their ledger entries;
- the replay itself (`start_replay`): the replay row, N runs, the envelopes' status and the
  audit rows, in one transaction;
- the event sensor's first launch decision over them (`due_launches`, batches of 50).

    .venv/bin/python bench/replay.py                 # 10,000 events
    .venv/bin/python bench/replay.py --events 2000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.connectors import fresh_database
from orchestrator_core.policy import load_policy
from orchestrator_core.records.launches import BatchSpec, due_launches
from orchestrator_core.records.replays import (
    MAX_REPLAY_EVENTS,
    Selection,
    plan_replay,
    start_replay,
)
from orchestrator_core.settings import DEFAULT_POLICY_PATH, Settings

PORTAL = 62_515
FIRST_COMPANY = 50_000_000
SOP_TEMPLATE = "4c90b3e6-5d7f-4182-a04c-1e3f9d5b7a44"
OCCURRED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

# One finished intake per company, all in set-returning SQL: envelopes, then runs, then the
# ledger. `%(n)s` companies from FIRST_COMPANY.
_SEED = [
    """
    INSERT INTO orchestrator.webhook_deliveries (
        id, signature_version, event_count, stored_count, duplicate_count, rejected_count)
    VALUES (%(delivery)s, 'v3', %(n)s, %(n)s, 0, 0)
    """,
    """
    INSERT INTO orchestrator.event_envelopes (
        portal_id, event_id, content_hash, subscription_type, object_type, object_type_id,
        object_id, occurred_at, attempt_number, last_attempt_number, correlation_id,
        delivery_id, status, payload)
    SELECT %(portal)s, 900000000 + g, md5(g::text), 'company.creation', 'company', '0-2',
           %(first)s + g, %(occurred)s + g * interval '1 second', 0, 0, gen_random_uuid(),
           %(delivery)s, 'processed',
           jsonb_build_object('eventId', 900000000 + g, 'objectId', %(first)s + g)
    FROM generate_series(0, %(n)s - 1) AS g
    """,
    """
    INSERT INTO orchestrator.workflow_runs (
        run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,
        envelope_ids, trigger, status, outcome, policy_version, policy_hash, finished_at)
    SELECT 'company_intake:' || e.id, 'company_intake',
           'company_intake/company-' || e.object_id || '/' || e.id, e.portal_id, 'company',
           e.object_id, e.correlation_id, ARRAY[e.id],
           jsonb_build_object('source', 'hubspot', 'events', jsonb_build_array()),
           'succeeded', 'mirrored', %(version)s, %(hash)s, now()
    FROM orchestrator.event_envelopes e
    """,
    """
    INSERT INTO orchestrator.side_effects (thread_id, step, target, status, attempts, external_id)
    SELECT r.thread_id, s.step, s.target_prefix || r.object_id || s.target_suffix, 'succeeded', 1,
           'rec' || r.object_id
    FROM orchestrator.workflow_runs r
    CROSS JOIN (VALUES ('mirror_account', 'airtable:Accounts:', ''),
                       ('link_sop', 'airtable:Accounts:', ':sop')) AS s(step, target_prefix,
                                                                        target_suffix)
    """,
    """
    INSERT INTO orchestrator.side_effects (thread_id, step, target, status, attempts, external_id)
    SELECT 'company_intake/company-' || r.object_id, 'attach_sop', 'notion:sop:' || %(sop)s,
           'succeeded', 1, md5(r.object_id::text)::uuid::text
    FROM orchestrator.workflow_runs r
    """,
]


def seed(database_url: str, events: int, version: str, content_hash: str) -> None:
    params = {
        "n": events,
        "first": FIRST_COMPANY,
        "portal": PORTAL,
        "occurred": OCCURRED,
        "delivery": uuid.uuid4(),
        "version": version,
        "hash": content_hash,
        "sop": SOP_TEMPLATE,
    }
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        for statement in _SEED:
            conn.execute(statement, params)
        conn.execute("ANALYZE")


def timed(label: str, started: float) -> float:
    seconds = time.perf_counter() - started
    print(f"{label:<58} {seconds:8.2f} s")
    return seconds


async def replay(database_url: str, events: int) -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    selection = Selection(
        since=OCCURRED - timedelta(minutes=1),
        workflows=("company_intake",),
        statuses=("processed",),
    )
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        started = time.perf_counter()
        plan = await plan_replay(conn, policy, selection)
        timed(
            f"dry-run plan ({plan.counts['runs']} runs, {plan.counts['writes_reused']} reused)",
            started,
        )
        started = time.perf_counter()
        done = await start_replay(conn, policy, selection, actor="bench", source="operator")
        timed(f"replay started ({done.runs_started} runs stored, audited)", started)
    assert plan.counts["events_selected"] == events, plan.counts
    assert plan.counts["writes_reused"] == events and plan.counts["writes_reapplied"] == 2 * events
    with psycopg.connect(database_url, autocommit=True) as conn:
        started = time.perf_counter()
        launches = due_launches(
            conn,
            limit=100,
            again_after_seconds=120,
            batch_max=50,
            batches_in_flight=2,
            batch_concurrency=8,
        )
        timed(f"first launch decision ({len(launches)} batch runs of 50)", started)
        assert all(isinstance(launch, BatchSpec) for launch in launches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=MAX_REPLAY_EVENTS)
    args = parser.parse_args()
    settings = Settings()
    policy = load_policy(DEFAULT_POLICY_PATH)
    with fresh_database(settings) as database_url:
        started = time.perf_counter()
        seed(database_url, args.events, policy.version, policy.content_hash)
        timed(f"seeded {args.events} finished intakes (SQL)", started)
        asyncio.run(replay(database_url, args.events))


if __name__ == "__main__":
    main()
