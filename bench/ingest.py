"""Ingest benchmark: the real `orchestrator serve` over loopback, concurrent signed deliveries.

Sends N deliveries of 100 events (a share of them HubSpot-style redeliveries, attemptNumber + 1)
from C concurrent connections, then checks in Postgres that every accepted event is stored exactly
once, and prints events/s accepted and the latency percentiles.

    .venv/bin/python bench/ingest.py [--deliveries 600] [--concurrency 10] [--redeliver 0.1]

Uses DATABASE_URL's server when set, else the embedded one under ORCHESTRATOR_HOME; either way a
fresh database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest_api.auth.tokens import generate_secret  # noqa: E402
from ingest_api.signature import sign  # noqa: E402
from orchestrator_core.db.migrate import upgrade  # noqa: E402
from orchestrator_core.db.server import resolve_database  # noqa: E402
from orchestrator_core.db.urls import with_database  # noqa: E402
from orchestrator_core.settings import Settings  # noqa: E402

SECRET = "bench-client-secret"
EVENTS_PER_DELIVERY = 100
SUBSCRIPTIONS = ["contact.propertyChange", "company.propertyChange", "deal.propertyChange"]


def make_deliveries(
    count: int, redeliver_share: float, seed: int = 7
) -> list[list[dict[str, object]]]:
    rng = random.Random(seed)
    fresh = int(count * (1 - redeliver_share))
    deliveries: list[list[dict[str, object]]] = []
    event_id = 1
    for _ in range(fresh):
        batch = []
        for _ in range(EVENTS_PER_DELIVERY):
            batch.append(
                {
                    "eventId": event_id,
                    "subscriptionId": 1201,
                    "portalId": 62515,
                    "appId": 54321,
                    "occurredAt": 1_795_510_800_000 + event_id * 10,
                    "subscriptionType": rng.choice(SUBSCRIPTIONS),
                    "attemptNumber": 0,
                    "objectId": rng.randrange(1, 5_000),
                    "propertyName": rng.choice(["jobtitle", "amount", "dealstage", "name"]),
                    "propertyValue": f"value-{rng.randrange(10_000)}",
                    "changeSource": "CRM_UI",
                    "sourceId": "userId:45678",
                }
            )
            event_id += 1
        deliveries.append(batch)
    for _ in range(count - fresh):  # HubSpot retrying a delivery it thinks failed
        original = rng.choice(deliveries[:fresh])
        deliveries.append([{**event, "attemptNumber": 1} for event in original])
    rng.shuffle(deliveries)
    return deliveries


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def drive(url: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                headers = {
                    "Content-Type": "application/json",
                    **sign(secret=SECRET, body=body.decode(), uri=url),
                }
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    failures += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failures


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=600)
    parser.add_argument(
        "--concurrency", type=int, default=10, help="HubSpot's default is 10 in flight"
    )
    parser.add_argument("--redeliver", type=float, default=0.1, help="share of redelivered batches")
    parser.add_argument("--workers", type=int, default=1, help="the server's --workers")
    parser.add_argument("--log-level", default="INFO", help="the server's LOG_LEVEL")
    parser.add_argument("--server-log", type=Path, help="keep the server's JSON log in this file")
    args = parser.parse_args()

    database = resolve_database(Settings())
    name = f"orchestrator_bench_{uuid.uuid4().hex[:8]}"
    admin_url = with_database(database.url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(database.url, name)
    upgrade(url)

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HUBSPOT_WEBHOOK_SECRET": SECRET,
        "JWT_SECRET": generate_secret(),  # serve refuses to start without one
        "LOG_LEVEL": args.log_level,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator_cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stderr=args.server_log.open("wb") if args.server_log else subprocess.DEVNULL,
    )
    try:
        webhook = f"http://127.0.0.1:{port}/webhooks/hubspot"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.2)

        deliveries = make_deliveries(args.deliveries, args.redeliver)
        bodies = [orjson.dumps(d) for d in deliveries]
        unique_events = len({e["eventId"] for d in deliveries for e in d})
        warmup = [{**e, "eventId": 2_000_000_000 + i} for i, e in enumerate(deliveries[0])]
        asyncio.run(drive(webhook, [orjson.dumps(warmup)], 1))

        started = time.perf_counter()
        latencies, failures = asyncio.run(drive(webhook, bodies, args.concurrency))
        elapsed = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)

    with psycopg.connect(url) as conn:
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (portal_id, event_id))"
            " FROM orchestrator.event_envelopes WHERE event_id < 2000000000"
        ).fetchone() or (0, 0)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    database.release()

    events_sent = len(bodies) * EVENTS_PER_DELIVERY
    exactly_once = stored == distinct == unique_events and failures == 0
    print(
        f"deliveries        {len(bodies)} x {EVENTS_PER_DELIVERY} events,"
        f" {args.concurrency} concurrent, {int(args.redeliver * 100)}% redeliveries,"
        f" {args.workers} server worker(s)"
    )
    print(
        f"accepted          {events_sent / elapsed:,.0f} events/s"
        f"  ({len(bodies) / elapsed:,.0f} deliveries/s)"
    )
    print(
        f"latency           p50 {percentile(latencies, 0.50) * 1000:.1f} ms"
        f"  p95 {percentile(latencies, 0.95) * 1000:.1f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1000:.1f} ms  max {max(latencies) * 1000:.1f} ms"
    )
    print(
        f"stored            {stored} rows for {unique_events} distinct events"
        f"; non-200 answers: {failures}"
    )
    print(f"exactly once      {'yes' if exactly_once else 'NO'}")
    return 0 if exactly_once else 1


if __name__ == "__main__":
    raise SystemExit(main())
