"""Approval benchmark: decision → resumed workflow, on the whole local stack.

Starts the product as `orchestrator dev` does (embedded Postgres in a fresh temporary home, or
DATABASE_URL's server), parks workflows at an approval (a kickoff for each of the sandbox's 30
deals, and a procurement request for each deal at or above the threshold), then approves N of
them one by one through `PATCH /api/approvals/{id}/
decision`, `--interval` seconds apart, and prints for each decision how long until

- the continuation run started working on the workflow (the workflow resumed), and
- the workflow finished with its side effect written,

as p50/p95 over the N approvals.

    .venv/bin/python bench/approvals.py [--approvals 50] [--interval 6]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PORTAL_ID, bench_settings, percentile, signed_delivery, whole_stack
from orchestrator_core.users import create_user

DEAL_IDS = list(range(5001, 5031))  # the sandbox seed's deals


def park_events() -> list[dict[str, object]]:
    """A stage change (a kickoff approval) and an amount change (a procurement approval, when
    the deal's amount in HubSpot is at or above the threshold) for every seeded deal."""
    events: list[dict[str, object]] = []
    for index in range(2 * len(DEAL_IDS)):
        deal = DEAL_IDS[index // 2]
        kickoff = index % 2 == 0
        events.append(
            {
                "eventId": 8_000_000 + index,
                "subscriptionId": 1300,
                "portalId": PORTAL_ID,
                "appId": 54321,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": "deal.propertyChange",
                "attemptNumber": 0,
                "changeSource": "CRM_UI",
                "sourceId": "userId:45678",
                "objectId": deal,
                "propertyName": "dealstage" if kickoff else "amount",
                "propertyValue": "contractsent" if kickoff else "125000",
            }
        )
    return events


def send(api_url: str, secret: str, events: list[dict[str, object]]) -> None:
    url = f"{api_url}/webhooks/hubspot"
    with httpx.Client(timeout=15.0) as client:
        for event in events:
            body, headers = signed_delivery(url, secret, [event])
            client.post(url, content=body, headers=headers).raise_for_status()


def create_decider(database_url: str) -> tuple[str, str]:
    """A new admin (procurement needs one; kickoffs an operator): its email and password."""
    email = f"bench-admin-{secrets.token_hex(4)}@harborlabs.example"
    password = secrets.token_urlsafe(24)

    async def create() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await create_user(conn, email=email, role="admin", password=password, actor="bench")

    asyncio.run(create())
    return email, password


def log_in(api_url: str, email: str, password: str) -> dict[str, str]:
    """`POST /api/auth/token`: the Authorization header of the token."""
    response = httpx.post(
        f"{api_url}/api/auth/token",
        data={"username": email, "password": password},
        timeout=15.0,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(database_url: str, query: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(query).fetchone()
        if row is not None and row[0] >= expected:
            return
        time.sleep(1.0)
    raise SystemExit(f"timed out waiting for: {query}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approvals", type=int, default=50)
    parser.add_argument("--interval", type=float, default=6.0, help="seconds between decisions")
    args = parser.parse_args()

    secret = "bench-approvals-secret"
    settings = bench_settings("approvals", secret)
    with whole_stack(settings, secret) as stack:
        database_url = stack.database.url
        events = park_events()
        send(stack.api_url, secret, events)
        wait_for(
            database_url,
            "SELECT count(*) FROM orchestrator.workflow_runs"
            " WHERE status NOT IN ('requested', 'running')",
            len(events),
            timeout=60.0 * 30,
        )
        with psycopg.connect(database_url) as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM orchestrator.approvals WHERE status = 'pending'"
                    " ORDER BY id LIMIT %s",
                    (args.approvals,),
                )
            ]
        email, password = create_decider(database_url)
        with httpx.Client(base_url=stack.api_url, timeout=15.0) as client:
            client.headers.update(log_in(stack.api_url, email, password))
            for approval_id in ids:
                url = f"/api/approvals/{approval_id}/decision"
                decision = {"decision": "approve", "note": "bench"}
                response = client.patch(url, json=decision)
                if response.status_code == 401:  # the token expired (JWT_TTL_MINUTES): again
                    client.headers.update(log_in(stack.api_url, email, password))
                    response = client.patch(url, json=decision)
                response.raise_for_status()
                time.sleep(args.interval)
        wait_for(
            database_url,
            "SELECT count(*) FROM orchestrator.workflow_runs WHERE status = 'succeeded'"
            " AND outcome IN ('kickoff_scheduled', 'purchase_order_created')",
            len(ids),
            timeout=60.0 * 30,
        )
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                """
                SELECT extract(epoch FROM a.started_at - ap.decided_at),
                       extract(epoch FROM w.finished_at - ap.decided_at)
                FROM orchestrator.approvals ap
                JOIN orchestrator.workflow_run_attempts a
                     ON a.dagster_run_id = ap.continuation_run_id
                JOIN orchestrator.workflow_runs w ON w.id = ap.workflow_run_id
                """
            ).fetchall()
    resumed = [float(r[0]) for r in rows]
    finished = [float(r[1]) for r in rows]
    print(f"approvals         {len(rows)} decided, one every {args.interval:g} s")
    print(
        f"decision → resumed   p50 {statistics.median(resumed):.1f} s"
        f"  p95 {percentile(resumed, 0.95):.1f} s  max {max(resumed):.1f} s"
    )
    print(
        f"decision → finished  p50 {statistics.median(finished):.1f} s"
        f"  p95 {percentile(finished, 0.95):.1f} s"
    )


if __name__ == "__main__":
    main()
