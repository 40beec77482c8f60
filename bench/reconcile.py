"""Reconciliation benchmark: one pass over a portal of 10,000 companies and their mirrors.

Starts the vendor sandbox (in-process uvicorn, real HTTP, the vendors' real limits: HubSpot
search 4 requests/s, Airtable 5 requests/s per base) on a fresh database, replaces the seed's
HubSpot companies and contacts with N companies and M contacts and writes their Airtable
Accounts and Contacts rows straight into the sandbox schema (SQL: seeding through the API
would take 10,000 / 50 records/s = 200 s), with a few differences planted: edited fields,
deleted rows, orphans and a duplicate. Then one pass through the real connectors (and the
shared vendor budgets) and its time, and a check that it found exactly the planted drifts.

    .venv/bin/python bench/reconcile.py                       # 10,000 companies, 1,000 contacts
    .venv/bin/python bench/reconcile.py --companies 2000 --contacts 200
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.connectors import fresh_database, running_sandbox
from orchestrator_core.policy import load_policy
from orchestrator_core.reconciliation.mirrors import KEY_FIELD, accounts_mirror, contacts_mirror
from orchestrator_core.reconciliation.passes import run_pass
from orchestrator_core.reconciliation.sources import Readers, Tables
from orchestrator_core.settings import DEFAULT_POLICY_PATH, Settings
from orchestrator_core.vendor_budgets import PostgresRequestBudget
from resources.airtable import AirtableConnector
from resources.connections import connector_options, connector_retry, connector_timeouts
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector

BASE_ID = "appOrchestratorOps"  # the Settings default the connector uses
FIRST_COMPANY = 30_000_000
FIRST_CONTACT = 40_000_000
EDITED, DELETED, ORPHANS = 5, 3, 2  # planted among the companies; plus one duplicate
STAMP = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def company(index: int) -> dict[str, str]:
    return {
        "name": f"Bench Company {index:05d}",
        "domain": f"bench-{index:05d}.example",
        "website": f"https://bench-{index:05d}.example",
        "industry": ("COMPUTER_SOFTWARE", "RETAIL", "LOGISTICS")[index % 3],
        "annualrevenue": str(1_000_000 + index * 1000),
        "type": ("CUSTOMER", "PARTNER")[index % 2],
        "lifecyclestage": ("lead", "opportunity", "customer")[index % 3],
        "country": "United States",
        "city": ("Seattle", "Austin", "Boston")[index % 3],
        "hubspot_owner_id": "101",
    }


def contact(index: int) -> dict[str, str]:
    return {
        "firstname": f"First{index}",
        "lastname": f"Last{index}",
        "email": f"person{index}@bench.example",
        "jobtitle": ("CFO", "Head of IT", "Procurement Manager")[index % 3],
        "company": f"Bench Company {index:05d}",
        "hubspot_owner_id": "101",
    }


def hubspot_row(collection: str, object_id: int, properties: dict[str, str]) -> tuple[Any, ...]:
    modified = "lastmodifieddate" if collection == "contacts" else "hs_lastmodifieddate"
    stamp = iso(STAMP)
    data = {
        "properties": {**properties, "createdate": stamp, modified: stamp},
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }
    return ("hubspot", collection, str(object_id), Jsonb(data))


def airtable_row(table: str, number: int, fields: dict[str, Any], edited: bool) -> tuple[Any, ...]:
    created = iso(STAMP + timedelta(minutes=1))
    modified = iso(STAMP + timedelta(days=1)) if edited else created
    data = {
        "fields": {k: v for k, v in fields.items() if v not in (None, "")},
        "createdTime": created,
        "modifiedTime": modified,
    }
    return ("airtable", f"{BASE_ID}/{table}", f"recBench{number:09d}", Jsonb(data))


def seed(database_url: str, companies: int, contacts: int) -> dict[str, int]:
    """The portal and its mirrors, with the planted differences; returns what was planted."""
    policy = load_policy(DEFAULT_POLICY_PATH)
    accounts, people = accounts_mirror(policy.policy), contacts_mirror()
    hubspot: list[tuple[Any, ...]] = []
    airtable: list[tuple[Any, ...]] = []
    number = 0
    for index in range(companies):
        object_id, properties = FIRST_COMPANY + index, company(index)
        hubspot.append(hubspot_row("companies", object_id, properties))
        if index < DELETED:
            continue  # a mirror row deleted
        fields = {KEY_FIELD: str(object_id), **accounts.expected(properties)}
        edited = DELETED <= index < DELETED + EDITED
        if edited:
            fields["City"] = "Edited by hand"
        number += 1
        airtable.append(airtable_row(accounts.table, number, fields, edited))
    for index in range(ORPHANS):
        number += 1
        orphan = {KEY_FIELD: str(FIRST_COMPANY + companies + index), "HubSpot name": "Gone"}
        airtable.append(airtable_row(accounts.table, number, orphan, True))
    number += 1
    duplicate = {KEY_FIELD: str(FIRST_COMPANY + companies - 1), "HubSpot name": "Copy"}
    airtable.append(airtable_row(accounts.table, number, duplicate, True))
    for index in range(contacts):
        object_id, properties = FIRST_CONTACT + index, contact(index)
        hubspot.append(hubspot_row("contacts", object_id, properties))
        number += 1
        fields = {KEY_FIELD: str(object_id), **people.expected(properties)}
        airtable.append(airtable_row(people.table, number, fields, False))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM sandbox.records WHERE vendor = 'hubspot'"
            " AND collection IN ('companies', 'contacts')"
        )
        conn.execute("DELETE FROM sandbox.records WHERE vendor = 'airtable'")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO sandbox.records (vendor, collection, id, data)"
                " VALUES (%s, %s, %s, %s)",
                hubspot + airtable,
            )
        conn.execute("ANALYZE sandbox.records")
    return {
        "field_drift": EDITED,
        "missing_downstream": DELETED,
        "orphan_downstream": ORPHANS,
        "duplicate_downstream": 1,
    }


def run(companies: int, contacts: int) -> dict[str, Any]:
    settings = Settings()
    with fresh_database(settings) as database_url, running_sandbox(database_url) as sandbox:
        httpx.post(f"{sandbox}/_sandbox/reset").raise_for_status()  # seeded, log emptied
        planted = seed(database_url, companies, contacts)
        budget = PostgresRequestBudget(database_url)

        def options(vendor: Any) -> dict[str, Any]:
            return {
                **connector_options(settings, vendor),
                "timeouts": connector_timeouts(settings),
                "retry": connector_retry(settings, vendor),
                "shared_budget": budget,
                "mode": "sandbox",
            }

        hubspot = HubSpotConnector(
            access_token="bench-token", host=f"{sandbox}/hubspot", **options("hubspot")
        )
        airtable = AirtableConnector(
            api_key="bench-key", endpoint_url=f"{sandbox}/airtable", **options("airtable")
        )
        google = GoogleWorkspaceConnector(
            access_token="bench-token", api_endpoint=f"{sandbox}/google", **options("google")
        )
        policy = load_policy(DEFAULT_POLICY_PATH)
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                started = time.perf_counter()
                result = run_pass(
                    conn,
                    Readers(hubspot=hubspot, airtable=airtable, calendar=google),
                    policy,
                    actor="bench",
                    tables=Tables(),
                )
                elapsed = time.perf_counter() - started
        finally:
            for connector in (hubspot, airtable, google):
                connector.close()
            budget.close()
        log = httpx.get(f"{sandbox}/_sandbox/requests", params={"limit": 10_000}).json()["requests"]
    requests = Counter(row["vendor"] for row in log)
    accounts = result.counts["targets"]["airtable/accounts"]
    return {
        "companies": companies,
        "contacts": contacts,
        "elapsed_s": round(elapsed, 1),
        "requests": dict(requests),
        "responses_429": sum(1 for row in log if row["status"] == 429),
        "planted": planted,
        "found": accounts["kinds"],
        "contacts_found": result.counts["targets"]["airtable/contacts"]["found"],
        "causes": accounts["causes"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=1_000)
    args = parser.parse_args()
    if args.companies < 10 or args.contacts < 0:
        parser.error("--companies must be at least 10, --contacts at least 0")
    report = run(args.companies, args.contacts)
    print("Reconciliation pass against the sandbox (HubSpot and Airtable at their real limits)")
    print(f"  companies / contacts    {report['companies']} / {report['contacts']}")
    print(f"  elapsed                 {report['elapsed_s']} s")
    print(f"  requests                {report['requests']}")
    print(f"  429 responses           {report['responses_429']} (aim: 0)")
    print(f"  drifts planted          {report['planted']}")
    print(f"  drifts found            {report['found']} (contacts: {report['contacts_found']})")
    print(f"  causes                  {report['causes']}")
    ok = report["found"] == report["planted"] and report["contacts_found"] == 0
    return 0 if ok and report["responses_429"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
