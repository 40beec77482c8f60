"""Pipeline benchmark: webhook in → Dagster run → workflow finished, on the whole local stack.

Starts the product as `orchestrator dev` does (embedded Postgres in a fresh temporary home, or
DATABASE_URL's server; the API, the sandbox, the Dagster webserver and daemon), sends N signed
`company.creation` events for the sandbox's companies (one delivery each, as HubSpot sends a
trickle), waits until every resulting run has finished, and prints:

- event → run start latency: envelope stored → Dagster run started, and → the workflow's first
  step (p50/p95);
- run overhead: machine CPU seconds per run, all processes included, idle baseline removed;
- end-to-end throughput in events per minute.

    .venv/bin/python bench/pipeline.py [--events 40] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    PORTAL_ID,
    bench_settings,
    cpu_seconds,
    idle_cpu_rate,
    percentile,
    signed_delivery,
    whole_stack,
)

COMPANY_IDS = list(range(9001, 9041))  # the sandbox seed's companies


def send_events(api_url: str, secret: str, count: int, interval: float) -> None:
    with httpx.Client(base_url=api_url, timeout=15.0) as client:
        url = f"{api_url}/webhooks/hubspot"
        for index in range(count):
            event = {
                "eventId": 9_000_000 + index,
                "subscriptionId": 1100,
                "portalId": PORTAL_ID,
                "appId": 54321,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": "company.creation",
                "attemptNumber": 0,
                "changeSource": "CRM_UI",
                "objectId": COMPANY_IDS[index % len(COMPANY_IDS)],
            }
            body, headers = signed_delivery(url, secret, [event])
            response = client.post("/webhooks/hubspot", content=body, headers=headers)
            response.raise_for_status()
            time.sleep(interval)


def wait_finished(database_url: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')), count(*)"
                " FROM orchestrator.workflow_runs"
            ).fetchone()
        assert row is not None
        if row[1] == count and row[0] == count:
            return
        time.sleep(1.0)
    raise SystemExit(f"runs not finished within {timeout:.0f} s")


def latencies(database_url: str) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            SELECT extract(epoch FROM e.received_at),
                   r.start_time,
                   extract(epoch FROM r.create_timestamp AT TIME ZONE 'UTC'),
                   extract(epoch FROM a.started_at),
                   r.end_time,
                   w.status
            FROM orchestrator.workflow_runs w
            JOIN orchestrator.event_envelopes e ON e.id = w.envelope_ids[1]
            JOIN orchestrator.workflow_run_attempts a
                 ON a.workflow_run_id = w.id AND a.kind = 'start'
            JOIN dagster.runs r ON r.run_id = a.dagster_run_id
            """
        ).fetchall()
    return {
        "to_run_created": [float(created) - float(received) for received, _, created, *_ in rows],
        "to_run_start": [float(run_start) - float(received) for received, run_start, *_ in rows],
        "to_first_step": [float(step) - float(received) for received, _, _, step, *_ in rows],
        "run_durations": [float(end) - float(start) for _, start, _, _, end, _ in rows],
        "failed": sum(status != "succeeded" for *_, status in rows),
        "first_received": min(float(r[0]) for r in rows),
        "last_end": max(float(r[4]) for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between events")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="baseline window")
    args = parser.parse_args()

    secret = "bench-pipeline-secret"
    settings = bench_settings("pipeline", secret)
    with whole_stack(settings, secret) as stack:
        time.sleep(10.0)  # let the daemon and code servers finish starting
        idle_rate = idle_cpu_rate(args.idle_seconds)

        started = time.monotonic()
        cpu_start = cpu_seconds()
        send_events(stack.api_url, secret, args.events, args.interval)
        wait_finished(stack.database.url, args.events, timeout=60.0 * 30)
        elapsed = time.monotonic() - started
        cpu_used = cpu_seconds() - cpu_start - idle_rate * elapsed
        figures = latencies(stack.database.url)

    to_created = figures["to_run_created"]
    to_start, to_step = figures["to_run_start"], figures["to_first_step"]
    window = figures["last_end"] - figures["first_received"]
    print(f"events            {args.events} company.creation, one every {args.interval:g} s")
    print(f"runs              {len(to_start)} finished, {figures['failed']} failed")
    print(
        f"event → run queued p50 {statistics.median(to_created):.1f} s"
        f"  p95 {percentile(to_created, 0.95):.1f} s  (sensor tick)"
    )
    print(
        f"event → run start p50 {statistics.median(to_start):.1f} s"
        f"  p95 {percentile(to_start, 0.95):.1f} s"
    )
    print(
        f"event → 1st step  p50 {statistics.median(to_step):.1f} s"
        f"  p95 {percentile(to_step, 0.95):.1f} s"
    )
    print(f"run duration      p50 {statistics.median(figures['run_durations']):.1f} s")
    print(f"CPU per run       {cpu_used / args.events:.2f} s (machine-wide, idle baseline removed)")
    print(f"throughput        {args.events / window * 60:.0f} events/min end to end")


if __name__ == "__main__":
    main()
