"""Connector benchmark: mirror companies into Airtable at the vendor's rate limit.

Starts the vendor sandbox (in-process uvicorn, real HTTP on a free loopback port) against a
fresh database on the embedded Postgres (or on DATABASE_URL's server), upserts N companies
through `AirtableConnector` (10 records per request, throttled to 5 requests/s per base) and
reports records/s against Airtable's physical ceiling of 50 records/s per base, plus the
429s and penalties the sandbox counted. The sandbox runs with Airtable's real limits (5
requests/s per base, 30-second penalty after a 429).

    .venv/bin/python bench/connectors.py               # 2,000 companies, about 42 s
    .venv/bin/python bench/connectors.py --records 300
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator_core.db.embedded import start_embedded
from orchestrator_core.db.migrate import upgrade
from orchestrator_core.db.urls import libpq_url, with_database
from orchestrator_core.settings import Settings
from resources.airtable import RECORDS_PER_REQUEST, AirtableConnector
from resources.connections import connector_retry, connector_timeouts

BASE_ID = "appBenchMirror"
TABLE = "Accounts"
AIRTABLE_REQUESTS_PER_SECOND = 5
PHYSICAL_LIMIT = AIRTABLE_REQUESTS_PER_SECOND * RECORDS_PER_REQUEST  # records/s per base

INDUSTRIES = ("COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "LOGISTICS", "RETAIL", "HEALTHCARE")
STAGES = ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")


@contextlib.contextmanager
def fresh_database(settings: Settings) -> Iterator[str]:
    """A new, migrated database, dropped afterwards; the embedded server unless configured."""
    server = None
    if settings.database_url is not None:
        admin = libpq_url(settings.database_url.get_secret_value())
    else:
        server = start_embedded(settings.home / "pgdata")
        admin = server.get_uri("postgres")
    name = f"bench_connectors_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = with_database(admin, name)
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        if server is not None:
            server.cleanup()


@contextlib.contextmanager
def running_sandbox(database_url: str) -> Iterator[str]:
    """The sandbox app with the vendors' real limits, served on a free port; yields its URL."""
    from sandbox.app import create_sandbox_app
    from sandbox.config import SandboxConfig

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    app = create_sandbox_app(database_url=database_url, config=SandboxConfig())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="sandbox", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def companies(count: int) -> list[dict[str, Any]]:
    """Company rows as the mirror writes them, keyed by HubSpot id."""
    return [
        {
            "HubSpot ID": str(20_000_000 + index),
            "Name": f"Bench Company {index:05d}",
            "Domain": f"bench-{index:05d}.example",
            "Industry": INDUSTRIES[index % len(INDUSTRIES)],
            "Employees": 10 + (index * 37) % 5000,
            "Lifecycle Stage": STAGES[index % len(STAGES)],
        }
        for index in range(count)
    ]


def run(records: int) -> dict[str, Any]:
    settings = Settings()
    with fresh_database(settings) as database_url, running_sandbox(database_url) as sandbox:
        airtable = AirtableConnector(
            api_key="sandbox-airtable-credential",
            base_id=BASE_ID,
            endpoint_url=f"{sandbox}/airtable",
            requests_per_second=AIRTABLE_REQUESTS_PER_SECOND,
            rate_limit_penalty_seconds=settings.airtable_rate_limit_penalty_seconds,
            timeouts=connector_timeouts(settings),
            retry=connector_retry(settings, "airtable"),
            mode="sandbox",
        )
        rows = companies(records)
        started = time.perf_counter()
        result = airtable.upsert_records(table=TABLE, records=rows, key_field="HubSpot ID")
        elapsed = time.perf_counter() - started
        airtable.close()

        log = httpx.get(
            f"{sandbox}/_sandbox/requests", params={"vendor": "airtable", "limit": 10_000}
        ).json()["requests"]
        seconds = httpx.get(
            f"{sandbox}/_sandbox/requests/per-second", params={"vendor": "airtable"}
        ).json()["seconds"]
        stored = httpx.get(f"{sandbox}/_sandbox/airtable/{BASE_ID}/{TABLE}").json()["records"]
    rate = records / elapsed
    return {
        "records": records,
        "created": len(result.created_ids),
        "stored": len(stored),
        "requests": len(log),
        "elapsed_s": round(elapsed, 2),
        "records_per_s": round(rate, 1),
        "physical_limit_records_per_s": PHYSICAL_LIMIT,
        "ratio": round(rate / PHYSICAL_LIMIT, 3),
        "responses_429": sum(1 for row in log if row["status"] == 429),
        "penalties": sum(1 for row in log if row["outcome"] == "rate_limited"),
        "max_requests_in_a_second": max(
            (row["served"] + row["refused"] for row in seconds), default=0
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="companies to mirror")
    args = parser.parse_args()
    if args.records <= 0:
        parser.error("--records must be positive")
    report = run(args.records)
    print("Airtable mirror through AirtableConnector against the sandbox (real limits)")
    print(f"  records mirrored        {report['records']} ({report['stored']} stored)")
    print(f"  requests                {report['requests']} ({RECORDS_PER_REQUEST} records each)")
    print(f"  elapsed                 {report['elapsed_s']} s")
    print(f"  throughput              {report['records_per_s']} records/s")
    print(
        f"  physical limit          {PHYSICAL_LIMIT} records/s "
        f"({AIRTABLE_REQUESTS_PER_SECOND} requests/s x {RECORDS_PER_REQUEST} records per base)"
    )
    print(f"  ratio to the limit      {report['ratio']:.1%} (aim: at least 90%)")
    if report["requests"] < 60:
        print("  (a short run reads high: its first second's burst of 5 requests is free)")
    print(f"  429 responses           {report['responses_429']} (aim: 0)")
    print(f"  30-second penalties     {report['penalties']} (aim: 0)")
    print(f"  most requests in 1 s    {report['max_requests_in_a_second']}")
    ok = report["ratio"] >= 0.9 and report["responses_429"] == 0
    return 0 if ok and report["stored"] == report["records"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
