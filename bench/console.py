"""Console benchmark: how long each main page takes with 100,000 workflow runs.

On a fresh database (the embedded server unless DATABASE_URL is set), N events and N workflow
runs over 90 days (four workflows, every status), N audit rows, 1 in 20 runs with an open
exception and 1 in 100 parked at a pending approval, each with a ledger entry, written by SQL.
Then an admin logs in to the console (the app in-process, over its real ASGI stack, as
`orchestrator serve` runs it) and each page is loaded REPEAT times: the first page of a list,
a filtered list, a page deep in the history, and the detail pages. Printed: the median, p95 and
slowest load per page, server and rendering included.

    .venv/bin/python bench/console.py                 # 100,000 runs
    .venv/bin/python bench/console.py --runs 10000
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.connectors import fresh_database
from ingest_api.app import create_app
from orchestrator_core.settings import Settings
from orchestrator_core.users import hash_password

REPEAT = 20
PASSWORD = "bench console password"  # a throwaway account of a throwaway database
ADMIN = "admin@bench.example"
WORKFLOWS = "ARRAY['company_intake','contact_role_mapping','deal_kickoff','procurement_approval']"
STATUSES = "ARRAY['succeeded','succeeded','succeeded','failed','awaiting_approval','requested']"

_SEED = [
    """
    INSERT INTO orchestrator.webhook_deliveries (
        id, signature_version, event_count, stored_count, duplicate_count, rejected_count)
    VALUES (%(delivery)s, 'v3', %(n)s, %(n)s, 0, 0)
    """,
    """
    INSERT INTO orchestrator.event_envelopes (
        portal_id, event_id, content_hash, subscription_type, object_type, object_type_id,
        object_id, occurred_at, received_at, attempt_number, last_attempt_number,
        correlation_id, delivery_id, status, payload)
    SELECT 62515, 800000000 + g, md5(g::text), 'company.propertyChange', 'company', '0-2',
           40000000 + g %% 5000, t, t, 0, 0, gen_random_uuid(), %(delivery)s, 'processed',
           jsonb_build_object('eventId', 800000000 + g, 'objectId', 40000000 + g %% 5000)
    FROM generate_series(0, %(n)s - 1) AS g,
         LATERAL (SELECT now() - interval '90 days' * (1 - g::float / %(n)s) AS t) AS at
    """,
    f"""
    INSERT INTO orchestrator.workflow_runs (
        run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,
        envelope_ids, trigger, status, outcome, policy_version, policy_hash, requested_at,
        started_at, finished_at)
    SELECT 'bench:' || e.id, w, w || '/company-' || e.object_id || '/' || e.id, e.portal_id,
           'company', e.object_id, e.correlation_id, ARRAY[e.id],
           jsonb_build_object('source', 'hubspot', 'events', jsonb_build_array()), s,
           CASE WHEN s = 'succeeded' THEN 'mirrored' END, 'bench', 'bench', e.received_at,
           e.received_at + interval '5 seconds',
           CASE WHEN s IN ('succeeded', 'failed') THEN e.received_at + interval '30 seconds' END
    FROM orchestrator.event_envelopes e,
         LATERAL (SELECT ({WORKFLOWS})[1 + e.id %% 4] AS w,
                         ({STATUSES})[1 + (e.id / 4) %% 6] AS s) AS pick
    """,
    """
    INSERT INTO orchestrator.side_effects (thread_id, step, target, status, attempts, external_id)
    SELECT thread_id, 'mirror_account', 'airtable:Accounts:' || id, 'succeeded', 1, 'rec' || id
    FROM orchestrator.workflow_runs
    """,
    """
    INSERT INTO orchestrator.exceptions (dedup_key, kind, severity, message, workflow,
        workflow_run_id, portal_id, object_type, object_id, status, opened_at, last_seen_at)
    SELECT 'bench-' || id, 'data_quality',
           (ARRAY['info', 'warning', 'error', 'critical'])[1 + id %% 4],
           'the domain of company ' || object_id || ' is not a domain', workflow, id, portal_id,
           object_type, object_id, 'open', requested_at, requested_at
    FROM orchestrator.workflow_runs WHERE id %% 20 = 0
    """,
    """
    INSERT INTO orchestrator.approvals (workflow_run_id, workflow, thread_id, interrupt_id, kind,
        proposal, reason, policy_snapshot, policy_version, policy_hash, approver_role, due_at,
        status, portal_id, object_type, object_id)
    SELECT id, workflow, thread_id, 'bench-' || id, 'kickoff',
           '{"title": "Kickoff", "slots": [], "attendees": []}', 'a kickoff needs a person',
           '{}', 'bench', 'bench', 'operator', now() + interval '1 day' + id * interval '1 second',
           'pending', portal_id, object_type, object_id
    FROM orchestrator.workflow_runs WHERE id %% 100 = 0
    """,
    """
    INSERT INTO orchestrator.audit_log (occurred_at, actor, action, entity_type, entity_id, after)
    SELECT requested_at, 'system', 'run.finished', 'workflow_run', id::text,
           jsonb_build_object('status', status)
    FROM orchestrator.workflow_runs ORDER BY id
    """,
]


def seed(database_url: str, runs: int) -> None:
    params = {"n": runs, "delivery": uuid.uuid4()}
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        for statement in _SEED:
            conn.execute(statement, params)
        conn.execute(
            "INSERT INTO orchestrator.users (email, role, password_hash) VALUES (%s, 'admin', %s)",
            (ADMIN, hash_password(PASSWORD)),
        )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def log_in(client: TestClient) -> None:
    form = client.get("/console/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = client.post(
        "/console/login",
        data={"username": ADMIN, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def pages(database_url: str, runs: int) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT id FROM orchestrator.workflow_runs WHERE status = 'failed' LIMIT 1),"
            " (SELECT max(id) FROM orchestrator.event_envelopes),"
            " (SELECT min(id) FROM orchestrator.approvals),"
            " (SELECT min(id) FROM orchestrator.exceptions)"
        ).fetchone()
    assert row is not None
    run_id, envelope_id, approval_id, exception_id = row
    return {
        "overview": "/console",
        "approvals (queue)": "/console/approvals",
        "approval": f"/console/approvals/{approval_id}",
        "exceptions (open)": "/console/exceptions",
        "exceptions, severity critical": "/console/exceptions?severity=critical",
        "exception": f"/console/exceptions/{exception_id}",
        "runs": "/console/runs",
        "runs, failed deal_kickoff": "/console/runs?workflow=deal_kickoff&status=failed",
        "runs, one object": "/console/runs?object_type=company&object_id=40000042",
        "runs, page deep in history": f"/console/runs?before_id={runs // 10}",
        "run": f"/console/runs/{run_id}",
        "events": "/console/events",
        "events, one object": "/console/events?object_type=company&object_id=40000042",
        "event": f"/console/events/{envelope_id}",
        "audit": "/console/audit",
        "audit, one entity": f"/console/audit?entity_type=workflow_run&entity_id={run_id}",
        "users": "/console/users",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    args = parser.parse_args()
    settings = Settings()
    with fresh_database(settings) as database_url:
        started = time.perf_counter()
        seed(database_url, args.runs)
        print(
            f"seeded {args.runs:,} events, runs, ledger and audit rows in"
            f" {time.perf_counter() - started:.1f} s"
        )
        app_settings = Settings(
            database_url=database_url,
            jwt_secret=secrets.token_urlsafe(48),
            hubspot_webhook_secret="bench",
            dagster_ui_url="http://127.0.0.1:9",  # closed: the health check says down at once
        )
        with TestClient(create_app(app_settings, database_url)) as client:
            log_in(client)
            print(f"\n{'page':<34} {'median':>9} {'p95':>9} {'slowest':>9}  (ms, {REPEAT} loads)")
            for name, path in pages(database_url, args.runs).items():
                times = []
                for _ in range(REPEAT):
                    begun = time.perf_counter()
                    answer = client.get(path)
                    times.append((time.perf_counter() - begun) * 1000)
                    assert answer.status_code == 200, (path, answer.status_code, answer.text[-500:])
                times.sort()
                p95 = times[int(0.95 * (len(times) - 1))]
                print(f"{name:<34} {statistics.median(times):9.1f} {p95:9.1f} {times[-1]:9.1f}")


if __name__ == "__main__":
    main()
