"""Metrics benchmark: what a Prometheus scrape of /metrics costs with 100,000 finished runs.

On a fresh database (the embedded server unless DATABASE_URL is set), written by SQL: N finished
workflow runs over 90 days and the four workflows (85 % succeeded, 15 % failed; 1 in 50 a child
run without events of its own), each with its event envelope (received before the run started
and finished; latencies from seconds to hours, a share of the deal workflows parked for a
decision), 3 side-effect ledger entries per run, 1 in 20 runs with an open exception, 1,000 runs
parked at a pending approval (a tenth of them overdue), and a backlog: BACKLOG envelopes
received, a tenth as many dispatched with their requested runs, a few running. Then, timed
REPEAT times each after one warm-up:

- `GET /metrics` end to end: the real `orchestrator serve` (one worker, METRICS_TOKEN set) over
  loopback through httpx, the answer's size, and the two parts' read time the scrape reports;
- `read_state` and `read_history` on their own, on one connection, as the route calls them.

Printed: median, p95 and slowest in ms.

    .venv/bin/python bench/metrics.py                 # 100,000 runs
    .venv/bin/python bench/metrics.py --runs 10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import free_port  # noqa: E402
from bench.connectors import fresh_database  # noqa: E402
from ingest_api.auth.tokens import generate_secret  # noqa: E402
from orchestrator_core.queries.metrics import read_history, read_state  # noqa: E402
from orchestrator_core.settings import Settings  # noqa: E402

REPEAT = 20
BUDGET_MS = 2000  # METRICS_DB_BUDGET_MS's default
TOKEN = secrets.token_urlsafe(24)
WORKFLOWS = "ARRAY['company_intake','contact_role_mapping','deal_kickoff','procurement_approval']"
OUTCOMES = "ARRAY['mirrored','mapped','kicked_off','below_threshold']"
P = "hubspot_orchestrator_"


# A pseudo-random fraction in [0, 1) of a row id, for spread-out latencies.
def _frac(x: str) -> str:
    return f"((({x} * 7919) %% 10007) / 10007.0)"


_SEED = [
    """
    INSERT INTO orchestrator.webhook_deliveries (
        id, signature_version, event_count, stored_count, duplicate_count, rejected_count)
    VALUES (%(delivery)s, 'v3', %(total)s, %(total)s, 0, 0)
    """,
    # Envelopes: N processed (finished runs), then PARKED awaiting approval, DISPATCHED
    # dispatched, BACKLOG received (the last minutes), in that order of id.
    """
    INSERT INTO orchestrator.event_envelopes (
        portal_id, event_id, content_hash, subscription_type, object_type, object_type_id,
        object_id, occurred_at, received_at, attempt_number, last_attempt_number,
        correlation_id, delivery_id, status, payload)
    SELECT 62515, 700000000 + g, md5(g::text), 'company.propertyChange', 'company', '0-2',
           30000000 + g %% 20000, t, t, 0, 0, gen_random_uuid(), %(delivery)s,
           CASE WHEN g < %(n)s THEN 'processed'
                WHEN g < %(n)s + %(parked)s THEN 'awaiting_approval'
                WHEN g < %(n)s + %(parked)s + %(dispatched)s THEN 'dispatched'
                ELSE 'received' END,
           jsonb_build_object('eventId', 700000000 + g, 'objectId', 30000000 + g %% 20000)
    FROM generate_series(0, %(total)s - 1) AS g,
         LATERAL (SELECT CASE WHEN g < %(n)s + %(parked)s
                              THEN now() - interval '90 days' * (1 - g::float / %(n)s)
                                   - interval '1 day'
                              ELSE now() - interval '10 minutes'
                                   * (1 - (g - %(n)s)::float / %(backlog)s) END AS t) AS at
    """,
    # Finished runs: start 2 to 42 s after the event (1 in 25 up to 4 h later), take 3 to 63 s (a
    # third of the deal workflows' runs parked up to 2 days for a decision).
    f"""
    INSERT INTO orchestrator.workflow_runs (
        run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,
        envelope_ids, trigger, status, outcome, policy_version, policy_hash, requested_at,
        started_at, finished_at)
    SELECT 'bench:' || e.id, w, w || '/company-' || e.object_id || '/' || e.id, e.portal_id,
           'company', e.object_id, e.correlation_id,
           CASE WHEN e.id %% 50 = 0 THEN '{{}}'::bigint[] ELSE ARRAY[e.id] END,
           jsonb_build_object('source', 'hubspot', 'events', jsonb_build_array()), s,
           CASE WHEN s = 'succeeded' THEN o END, 'bench', 'bench', e.received_at + interval '1s',
           e.received_at + wait * interval '1 second',
           e.received_at + (wait + took) * interval '1 second'
    FROM orchestrator.event_envelopes e,
         LATERAL (SELECT 1 + e.id %% 4 AS k, {_frac("e.id")} AS f,
                         {_frac("(e.id + 13)")} AS f2) AS r,
         LATERAL (SELECT ({WORKFLOWS})[k] AS w, ({OUTCOMES})[k] AS o,
                         CASE WHEN e.id %% 7 = 0 THEN 'failed' ELSE 'succeeded' END AS s,
                         2 + 40 * f * f + CASE WHEN e.id %% 25 = 0 THEN 14400 * f2 ELSE 0 END
                           AS wait,
                         3 + 60 * f2 + CASE WHEN k >= 3 AND e.id %% 3 = 0
                                            THEN 172800 * f * f ELSE 0 END AS took) AS pick
    WHERE e.status = 'processed'
    """,
    # Parked at an approval, waiting for their runs (requested), or in a run now.
    f"""
    INSERT INTO orchestrator.workflow_runs (
        run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,
        envelope_ids, trigger, status, policy_version, policy_hash, requested_at, started_at)
    SELECT 'bench:' || e.id, ({WORKFLOWS})[CASE WHEN e.status = 'awaiting_approval'
                                               THEN 3 + e.id %% 2 ELSE 1 + e.id %% 4 END],
           'bench/company-' || e.object_id || '/' || e.id, e.portal_id, 'company', e.object_id,
           e.correlation_id, ARRAY[e.id],
           jsonb_build_object('source', 'hubspot', 'events', jsonb_build_array()), s,
           'bench', 'bench', e.received_at + interval '1s',
           CASE WHEN s <> 'requested' THEN e.received_at + interval '5 seconds' END
    FROM orchestrator.event_envelopes e,
         LATERAL (SELECT CASE WHEN e.status = 'awaiting_approval' THEN 'awaiting_approval'
                              WHEN e.id %% 20 = 0 THEN 'running'
                              ELSE 'requested' END AS s) AS pick
    WHERE e.status IN ('awaiting_approval', 'dispatched')
    """,
    """
    INSERT INTO orchestrator.approvals (workflow_run_id, workflow, thread_id, interrupt_id, kind,
        proposal, reason, policy_snapshot, policy_version, policy_hash, approver_role, due_at,
        status, portal_id, object_type, object_id)
    SELECT id, workflow, thread_id, 'bench-' || id, 'kickoff',
           '{"title": "Kickoff", "slots": [], "attendees": []}', 'a kickoff needs a person',
           '{}', 'bench', 'bench', 'operator',
           CASE WHEN id %% 10 = 0 THEN now() - interval '1 hour' ELSE now() + interval '1 day' END,
           'pending', portal_id, object_type, object_id
    FROM orchestrator.workflow_runs WHERE status = 'awaiting_approval'
    """,
    # Three ledger entries per finished run: 1 in 100 failed, 1 in 500 pending.
    """
    INSERT INTO orchestrator.side_effects (thread_id, step, target, status, attempts, external_id)
    SELECT r.thread_id, s.step, s.vendor || r.id,
           CASE WHEN (r.id + s.k) %% 500 = 0 THEN 'pending'
                WHEN (r.id + s.k) %% 100 = 0 THEN 'failed' ELSE 'succeeded' END,
           1, 'x' || r.id
    FROM orchestrator.workflow_runs r
    CROSS JOIN (VALUES (1, 'mirror_account', 'airtable:Accounts:'),
                       (2, 'note_once', 'hubspot:notes:'),
                       (3, 'attach_sop', 'notion:sop:')) AS s(k, step, vendor)
    WHERE r.status IN ('succeeded', 'failed')
    """,
    """
    INSERT INTO orchestrator.exceptions (dedup_key, kind, severity, message, workflow,
        workflow_run_id, portal_id, object_type, object_id, status, opened_at, last_seen_at)
    SELECT 'bench-' || id, (ARRAY['bad_data', 'ambiguous_title', 'vendor_error'])[1 + id %% 3],
           (ARRAY['info', 'warning', 'error', 'critical'])[1 + id %% 4],
           'company ' || object_id || ' needs a look', workflow, id, portal_id, object_type,
           object_id, 'open', requested_at, requested_at
    FROM orchestrator.workflow_runs WHERE id %% 20 = 0 AND status IN ('succeeded', 'failed')
    """,
    """
    INSERT INTO orchestrator.vendor_call_counts (vendor, event, count)
    SELECT v, e, 1000 * length(v) + length(e)
    FROM unnest(ARRAY['hubspot', 'airtable', 'notion', 'google']) AS v,
         unnest(ARRAY['request', 'retry', 'rate_limited', 'transient_error',
                      'permanent_error']) AS e
    """,
]


def seed(database_url: str, runs: int, backlog: int) -> dict[str, int]:
    parked, dispatched = 1000, backlog // 10
    params = {
        "n": runs,
        "parked": parked,
        "dispatched": dispatched,
        "backlog": backlog + dispatched,
        "total": runs + parked + dispatched + backlog,
        "delivery": uuid.uuid4(),
    }
    with psycopg.connect(database_url, autocommit=True) as conn:
        with conn.transaction():
            for statement in _SEED:
                conn.execute(statement, params)
        conn.execute("ANALYZE")
        row = conn.execute(
            "SELECT (SELECT count(*) FROM orchestrator.event_envelopes),"
            " (SELECT count(*) FROM orchestrator.workflow_runs),"
            " (SELECT count(*) FROM orchestrator.workflow_runs"
            "   WHERE status IN ('succeeded', 'failed')),"
            " (SELECT count(*) FROM orchestrator.side_effects),"
            " (SELECT count(*) FROM orchestrator.exceptions WHERE status = 'open'),"
            " (SELECT count(*) FROM orchestrator.approvals WHERE status = 'pending'),"
            " (SELECT count(*) FROM orchestrator.event_envelopes WHERE status = 'received')"
        ).fetchone()
    assert row is not None
    names = ("envelopes", "runs", "finished runs", "ledger entries", "open exceptions")
    return dict(zip((*names, "pending approvals", "received envelopes"), row, strict=True))


def summary(name: str, times: list[float], note: str = "") -> None:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"{name:<30} {statistics.median(ordered):9.1f} {p95:9.1f} {ordered[-1]:9.1f}  {note}")


async def timed_reads(database_url: str) -> dict[str, list[float]]:
    """read_state and read_history on one connection, REPEAT times each after a warm-up."""
    results: dict[str, list[float]] = {}
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        reads: dict[str, Callable[[], Awaitable[object]]] = {
            "read_state": lambda: read_state(conn, budget_ms=BUDGET_MS),
            "read_history": lambda: read_history(conn, budget_ms=BUDGET_MS),
        }
        # The first scrape folds every change the triggers recorded since the seed (as after
        # a long time without a scrape); the timed ones fold those since the one before.
        cur = await conn.execute("SELECT count(*) FROM orchestrator.metrics_history_deltas")
        pending = (await cur.fetchone() or (0,))[0]
        started = time.perf_counter()
        await read_history(conn, budget_ms=30_000)
        seconds = time.perf_counter() - started
        print(f"first read_history, {pending:,} deltas to fold: {seconds:.2f} s")
        for name, read in reads.items():
            times = []
            for attempt in range(REPEAT + 1):  # the first a warm-up
                started = time.perf_counter()
                try:
                    await read()
                except psycopg.errors.QueryCanceled:  # over its budget: counted at the budget
                    print(f"{name}: over its {BUDGET_MS} ms budget")
                if attempt:
                    times.append((time.perf_counter() - started) * 1000)
            results[name] = times
    return results


def start_server(database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HUBSPOT_WEBHOOK_SECRET": "bench-metrics-secret",
        "JWT_SECRET": generate_secret(),  # serve refuses to start without one
        "METRICS_TOKEN": TOKEN,
        "METRICS_DB_BUDGET_MS": str(BUDGET_MS),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestrator_cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("server did not start")
        time.sleep(0.2)


def scrapes(base: str) -> tuple[list[float], dict[str, list[float]], int, dict[str, Any]]:
    """REPEAT scrapes after a warm-up: their times, each part's reported read time, the last
    answer's size and a few of its values."""
    times: list[float] = []
    parts: dict[str, list[float]] = {"state": [], "history": []}
    size = 0
    seen: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        client.get("/metrics", headers=headers)
        for _ in range(REPEAT):
            started = time.perf_counter()
            answer = client.get("/metrics", headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, (answer.status_code, answer.text[:300])
            size = len(answer.content)
            seen = {"samples": 0}
            for family in text_string_to_metric_families(answer.text):
                seen["samples"] += len(family.samples)
                for sample in family.samples:
                    part = sample.labels.get("part")
                    if family.name == f"{P}state_read_duration_seconds" and part:
                        parts[part].append(sample.value * 1000)
                    elif family.name == f"{P}state_read_success" and part:
                        seen[f"success {part}"] = sample.value
                    elif sample.name == f"{P}event_to_run_finish_seconds_count":
                        seen["finish count"] = seen.get("finish count", 0) + sample.value
                    elif sample.name == f"{P}workflow_runs_finished_total":
                        seen["finished"] = seen.get("finished", 0) + sample.value
    return times, parts, size, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--backlog", type=int, default=3_000, help="envelopes received")
    args = parser.parse_args()
    with fresh_database(Settings()) as database_url:
        started = time.perf_counter()
        counts = seed(database_url, args.runs, args.backlog)
        print(f"seeded in {time.perf_counter() - started:.1f} s (SQL):")
        print("  " + ", ".join(f"{n:,} {name}" for name, n in counts.items()))

        reads = asyncio.run(timed_reads(database_url))
        server, base = start_server(database_url)
        try:
            times, parts, size, seen = scrapes(base)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)

        print(f"\n{'':<30} {'median':>9} {'p95':>9} {'slowest':>9}  (ms, {REPEAT} each)")
        summary("GET /metrics (serve, httpx)", times, f"{size:,} bytes, {seen['samples']} samples")
        summary("  its read_state", parts["state"], "as the scrape reports it")
        summary("  its read_history", parts["history"], "as the scrape reports it")
        summary("read_state alone", reads["read_state"])
        summary("read_history alone", reads["read_history"])
        print(
            f"\nstate read: success state={seen.get('success state')}"
            f" history={seen.get('success history')};"
            f" runs finished {seen.get('finished', 0):,.0f},"
            f" event → finish histogram count {seen.get('finish count', 0):,.0f}"
        )
        if seen.get("success history") != 1 or seen.get("success state") != 1:
            raise SystemExit("a part of the state was not read within its budget")


if __name__ == "__main__":
    main()
