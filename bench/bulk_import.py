"""Bulk import benchmark: N new HubSpot contacts → their role mapping, on the whole local stack.

Starts the product as `orchestrator dev` does (bench/common.py: embedded Postgres in a fresh
temporary home, or DATABASE_URL's server, then on an empty database; the API, the sandbox, the
Dagster webserver and daemon), then:

1. seeds the sandbox's HubSpot with N generated contacts (seeded RNG: names, emails at their
   company's domain, job titles from a realistic mix, some vague enough to go to review; each
   associated with one of the seeded companies) through `POST /_sandbox/hubspot/objects`, which
   costs no vendor request, and empties the sandbox's request log and rate-limit counters;
2. sends their `contact.creation` events as HubSpot sends a burst: signed deliveries of 100
   events, 10 in flight, as fast as the API accepts them;
3. waits until every envelope's workflow run has finished or parked (`--timeout`);
4. prints contacts/s end to end (first delivery sent → last run finished) and the ingest rate;
   vendor requests, 429s and Airtable penalties (sandbox request log); Dagster runs launched and
   workflow runs per Dagster run (schema `dagster`); machine CPU seconds per workflow run, idle
   baseline removed; each vendor's ceiling in contacts/s for this workload under the sandbox's
   configured limits, the one that binds and the measured rate as a share of it;
5. checks exactly-once, PASS/FAIL each: one Airtable Contacts record per mapped contact (and its
   checklist once), each role written once in HubSpot, the ledger holds exactly the writes the
   runs' outcomes call for and all succeeded, every envelope processed by one run.

Exit status 1 when a check fails or the runs do not finish in time (the partial figures are
printed first).

    .venv/bin/python bench/bulk_import.py [--contacts 2000] [--timeout 10800] [--seed 11]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    PORTAL_ID,
    bench_settings,
    cpu_seconds,
    idle_cpu_rate,
    signed_delivery,
    whole_stack,
)
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.policy.loader import load_policy
from orchestrator_defs.workflows.contact_role_mapping.airtable_fields import (
    CHECKLIST_KEY_FIELD,
    CONTACT_KEY_FIELD,
)
from orchestrator_defs.workflows.contact_role_mapping.state import ROLE_PROPERTY
from orchestrator_defs.workflows.context import AirtableTables
from resources.airtable import RECORDS_PER_REQUEST

EVENTS_PER_DELIVERY = 100  # HubSpot batches up to 100 events in a delivery
DELIVERIES_IN_FLIGHT = 10  # HubSpot's default concurrency per app
HUBSPOT_BATCH = 100  # inputs per HubSpot batch read or update
SEED_CHUNK = 5_000  # contacts per bulk insert
SANDBOX_SERVED = ("ok", "slow", "fault_lost_response")  # sandbox/state.py SERVED_OUTCOMES

# Job titles by group: (group, weight in %, titles). The rule enricher maps the last group to
# review (low confidence); the others to a role under policies/default.yaml.
TITLE_MIX: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("executives", 8, ("Chief Executive Officer", "CEO", "Founder & CEO", "Managing Director",
                       "Chief Operating Officer", "Chief Technology Officer", "President")),
    ("engineering", 20, ("VP Engineering", "Director of Engineering", "Engineering Manager",
                         "Senior Software Engineer", "Software Engineer", "Staff Software Engineer",
                         "Backend Developer", "DevOps Engineer", "Site Reliability Engineer")),
    ("security", 8, ("Chief Information Security Officer", "Head of IT Security",
                     "Security Engineer", "Information Security Analyst")),
    ("finance", 8, ("Chief Financial Officer", "VP Finance", "Finance Director",
                    "Accounts Payable Specialist")),
    ("procurement", 8, ("Head of Procurement", "Procurement Manager", "Purchasing Agent",
                        "Strategic Sourcing Manager", "Buyer")),
    ("legal", 4, ("Legal Counsel", "Head of Legal", "Contracts Manager")),
    ("product", 10, ("Chief Product Officer", "VP Product", "Director of Product Management",
                     "Product Manager", "Senior Product Owner")),
    ("data", 8, ("Chief Data Officer", "Head of Data", "Data Engineer", "Data Scientist",
                 "Analytics Manager")),
    ("operations", 8, ("VP Operations", "Operations Manager", "Head of Customer Success",
                       "Implementation Manager", "Customer Success Manager")),
    ("sales and marketing", 8, ("Account Executive", "Marketing Manager")),
    ("vague", 10, ("Consultant", "Associate", "Team Lead", "Specialist", "Coordinator",
                   "Advisor", "Generalist", "TBD")),
)  # fmt: skip
FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Sophia", "Lucas", "Mia", "Elias", "Hannah", "Jonas",
    "Léa", "Hugo", "Chloé", "Louis", "Lucía", "Mateo", "Sofía", "Pablo", "Giulia", "Marco",
    "Chiara", "Luca", "Anna", "Jan", "Zofia", "Piotr", "Sanne", "Daan", "Priya", "Arjun",
    "Ananya", "Rohan", "Wei", "Mei", "Yuki", "Haruto", "Aiko", "Kenji", "Fatima", "Omar",
    "Amara", "Kwame", "Ingrid", "Lars", "Freya", "Mikkel", "Aoife", "Cian", "Grace", "James",
    "Charlotte", "William", "Isabella", "Benjamin", "Ava", "Daniel", "Camila", "Diego", "Nora",
    "Felix",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Müller",
    "Schmidt", "Schneider", "Fischer", "Weber", "Martin", "Bernard", "Dubois", "Thomas",
    "Robert", "Rossi", "Russo", "Ferrari", "Esposito", "Fernández", "López", "Martínez",
    "Sánchez", "Nowak", "Kowalski", "Wiśniewski", "de Vries", "van Dijk", "Jansen", "Patel",
    "Sharma", "Singh", "Kumar", "Wang", "Li", "Zhang", "Chen", "Sato", "Suzuki", "Takahashi",
    "Tanaka", "Haddad", "Khan", "Okafor", "Mensah", "Andersen", "Nielsen", "Hansen", "Larsen",
    "Murphy", "Kelly", "O'Brien", "Walsh", "Taylor", "Wilson", "Anderson", "Moore",
)  # fmt: skip


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    domain: str
    owner_id: str | None


@dataclass(frozen=True)
class Ingest:
    first_sent: float  # epoch seconds
    last_accepted: float
    events: int
    deliveries: int


@dataclass(frozen=True)
class Run:
    object_id: int
    status: str
    outcome: str | None
    role: str | None  # the role written, for the runs that wrote one
    ended: float | None  # epoch seconds: finished, or parked


@dataclass(frozen=True)
class Ceiling:
    vendor: str
    limit: str
    load: str
    contacts_per_second: float


# -- seeding ------------------------------------------------------------------------------------


def seeded_companies(sandbox: httpx.Client) -> list[Company]:
    """The sandbox's live companies, with a usable email domain each."""
    companies = []
    for item in sandbox.get("/_sandbox/hubspot/companies").raise_for_status().json()["results"]:
        if item.get("archived"):
            continue
        props = item["properties"]
        name = str(props.get("name") or "").strip() or f"Company {item['id']}"
        domain = str(props.get("domain") or "").strip().lower()
        if "." not in domain or " " in domain:
            domain = f"{ascii_slug(name, '')}.example"
        companies.append(Company(item["id"], name, domain, props.get("hubspot_owner_id")))
    return companies


def ascii_slug(text: str, separator: str = ".") -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = "".join(c if c.isalnum() else " " for c in folded).split()
    return separator.join(words)


def generate_contacts(
    count: int, seed: int, companies: list[Company], taken_emails: set[str]
) -> list[dict[str, Any]]:
    """`count` contacts for the bulk insert, the same ones for the same seed."""
    rng = random.Random(seed)
    groups = [titles for _, _, titles in TITLE_MIX]
    weights = [weight for _, weight, _ in TITLE_MIX]
    taken = set(taken_emails)
    contacts = []
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(companies)
        title = rng.choice(rng.choices(groups, weights)[0])
        local = f"{ascii_slug(first)}.{ascii_slug(last)}"
        email, number = f"{local}@{company.domain}", 1
        while email in taken:
            number += 1
            email = f"{local}{number}@{company.domain}"
        taken.add(email)
        properties = {
            "firstname": first,
            "lastname": last,
            "email": email,
            "jobtitle": title,
            "company": company.name,
            "lifecyclestage": "lead",
        }
        if company.owner_id:
            properties["hubspot_owner_id"] = company.owner_id
        contacts.append({"properties": properties, "associations": {"companies": [company.id]}})
    return contacts


def seed_contacts(sandbox: httpx.Client, count: int, seed: int) -> list[int]:
    """Back to the seed, N contacts bulk-inserted, request log and limits restarted: their ids."""
    sandbox.post("/_sandbox/reset").raise_for_status()
    companies = seeded_companies(sandbox)
    existing = sandbox.get("/_sandbox/hubspot/contacts").raise_for_status().json()["results"]
    taken = {str(c["properties"].get("email") or "").lower() for c in existing}
    contacts = generate_contacts(count, seed, companies, taken)
    ids: list[int] = []
    for start in range(0, len(contacts), SEED_CHUNK):
        chunk = contacts[start : start + SEED_CHUNK]
        answer = sandbox.post(
            "/_sandbox/hubspot/objects", json={"objectType": "contacts", "objects": chunk}
        )
        ids += [int(i) for i in answer.raise_for_status().json()["ids"]]
    sandbox.delete("/_sandbox/requests").raise_for_status()
    return ids


# -- sending and waiting ------------------------------------------------------------------------


def creation_events(contact_ids: list[int]) -> list[list[dict[str, object]]]:
    """`contact.creation` events, grouped into deliveries of 100."""
    occurred = int(time.time() * 1000)
    events: list[dict[str, object]] = [
        {
            "eventId": 20_000_000 + index,
            "subscriptionId": 1300,
            "portalId": PORTAL_ID,
            "appId": 54321,
            "occurredAt": occurred + index,
            "subscriptionType": "contact.creation",
            "attemptNumber": 0,
            "changeSource": "CRM_UI",
            "objectId": contact_id,
        }
        for index, contact_id in enumerate(contact_ids)
    ]
    return [
        events[start : start + EVENTS_PER_DELIVERY]
        for start in range(0, len(events), EVENTS_PER_DELIVERY)
    ]


async def send_burst(
    api_url: str, secret: str, deliveries: list[list[dict[str, object]]]
) -> Ingest:
    """Every delivery, `DELIVERIES_IN_FLIGHT` at a time, each signed just before it leaves."""
    url = f"{api_url}/webhooks/hubspot"
    queue = list(reversed(deliveries))
    limits = httpx.Limits(max_connections=DELIVERIES_IN_FLIGHT)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:

        async def worker() -> None:
            while queue:
                body, headers = signed_delivery(url, secret, queue.pop())
                response = await client.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"delivery refused: {response.status_code} {response.text}")

        first_sent = time.time()
        await asyncio.gather(*(worker() for _ in range(DELIVERIES_IN_FLIGHT)))
        last_accepted = time.time()
    return Ingest(first_sent, last_accepted, sum(map(len, deliveries)), len(deliveries))


def progress(database_url: str) -> tuple[int, int, int]:
    """(envelopes stored, envelopes still waiting for their run, runs not finished or parked)."""
    with psycopg.connect(database_url) as conn:
        envelopes = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status IN ('received', 'dispatched'))"
            " FROM orchestrator.event_envelopes"
        ).fetchone()
        runs = conn.execute(
            "SELECT count(*) FROM orchestrator.workflow_runs"
            " WHERE status IN ('requested', 'running')"
        ).fetchone()
    assert envelopes is not None and runs is not None
    return int(envelopes[0]), int(envelopes[1]), int(runs[0])


def wait_settled(database_url: str, events: int, started: float, timeout: float) -> bool:
    """Until every envelope's run has finished or parked; False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    next_report = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        stored, waiting, open_runs = progress(database_url)
        if stored >= events and waiting == 0 and open_runs == 0:
            return True
        if time.monotonic() >= next_report:
            minutes = (time.time() - started) / 60
            print(f"  … {minutes:5.1f} min: {stored - waiting}/{events} events done", flush=True)
            next_report += 60.0
        time.sleep(2.0)
    return False


# -- figures ------------------------------------------------------------------------------------


def workflow_runs(database_url: str) -> list[Run]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            SELECT object_id, status, outcome,
                   CASE WHEN outcome = 'role_assigned' THEN state_summary ->> 'role' END,
                   extract(epoch FROM CASE WHEN status = 'awaiting_approval' THEN updated_at
                                           ELSE finished_at END)
            FROM orchestrator.workflow_runs
            """
        ).fetchall()
    return [
        Run(int(r[0]), r[1], r[2], r[3], float(r[4]) if r[4] is not None else None) for r in rows
    ]


def dagster_runs(database_url: str) -> dict[str, tuple[int, int]]:
    """Per Dagster job: (runs launched by the sensors, runs launched by a schedule)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            SELECT r.pipeline_name,
                   count(*) FILTER (WHERE s.run_id IS NULL),
                   count(*) FILTER (WHERE s.run_id IS NOT NULL)
            FROM dagster.runs r
            LEFT JOIN dagster.run_tags s
                   ON s.run_id = r.run_id AND s.key = 'dagster/schedule_name'
            GROUP BY 1 ORDER BY 1
            """
        ).fetchall()
    return {name: (int(sensed), int(scheduled)) for name, sensed, scheduled in rows}


def vendor_requests(sandbox: httpx.Client) -> dict[str, Counter[str]]:
    """Per vendor: requests per outcome, from the sandbox's request log."""
    counts: dict[str, Counter[str]] = {}
    for row in sandbox.get("/_sandbox/requests/counts").raise_for_status().json()["counts"]:
        counts.setdefault(row["vendor"], Counter())[row["outcome"]] += row["requests"]
    return counts


def batch_timing(database_url: str) -> str:
    """How the batches shared the time: their number, how many were in progress on average
    while the backlog drained, a batch run's and a workflow attempt's duration (p50)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            """
            WITH b AS (SELECT started_at, finished_at FROM orchestrator.run_batches
                       WHERE started_at IS NOT NULL AND finished_at IS NOT NULL),
                 a AS (SELECT finished_at - started_at AS took
                       FROM orchestrator.workflow_run_attempts WHERE finished_at IS NOT NULL)
            SELECT (SELECT count(*) FROM b),
                   (SELECT extract(epoch FROM sum(finished_at - started_at))
                           / nullif(extract(epoch FROM max(finished_at) - min(started_at)), 0)
                    FROM b),
                   (SELECT extract(epoch FROM percentile_cont(0.5) WITHIN GROUP
                           (ORDER BY finished_at - started_at)) FROM b),
                   (SELECT extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY took))
                    FROM a)
            """
        ).fetchone()
    assert row is not None
    batches, in_flight, batch_p50, attempt_p50 = row
    if not batches:
        return "no batch runs"
    return (
        f"{batches} batch runs, {float(in_flight):.2f} in progress on average; a batch run "
        f"p50 {float(batch_p50):.1f} s, a workflow run in it p50 {float(attempt_p50):.1f} s"
    )


def airtable_calls(database_url: str) -> Counter[str]:
    """Airtable requests per method and table, from the sandbox's request log: which calls
    the coalescing combines well and which it does not."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            SELECT method || ' ' || split_part(regexp_replace(path, '^.*/v0/[^/]+/', ''), '/', 1),
                   count(*)
            FROM sandbox.requests WHERE vendor = 'airtable' GROUP BY 1
            """
        ).fetchall()
    return Counter({call: int(count) for call, count in rows})


def expected_writes(runs: list[Run], policy: LoadedPolicy) -> Counter[str]:
    """Ledger entries per step that the runs' outcomes call for (contact_role_mapping/writes.py):
    a mapped contact gets its role in HubSpot, its Contacts record, its checklist (one entry),
    and a copy and a share of each of its role's Drive templates (every contact has an email)."""
    writes: Counter[str] = Counter()
    for run in runs:
        if run.role is None:
            continue
        templates = len(policy.policy.roles[run.role].drive_templates)
        writes.update(
            write_hubspot_role=1,
            mirror_contact=1,
            seed_checklist=1,
            copy_drive_template=templates,
            share_drive_copy=templates,
        )
    return writes


def airtable_records(runs: list[Run], policy: LoadedPolicy) -> int:
    """Airtable records the runs write: a Contacts record and the role's checklist items."""
    return sum(1 + len(policy.policy.roles[r.role].checklist) for r in runs if r.role is not None)


def ceilings(
    config: dict[str, Any], runs: list[Run], contacts: int, policy: LoadedPolicy
) -> list[Ceiling]:
    """Contacts/s each vendor's configured limit allows for this workload, with writes
    coalesced as far as each API allows (HubSpot batches of 100, Airtable 10 records)."""
    hubspot, airtable, drive = config["hubspot"], config["airtable"], config["google"]["drive"]
    hubspot_rate = hubspot["requests_per_window"] / hubspot["window_seconds"]
    # Every contact is read; the mapped ones get their role written.
    hubspot_inputs = (contacts + sum(r.role is not None for r in runs)) / contacts
    airtable_rate = airtable["requests_per_second"]
    records = airtable_records(runs, policy) / contacts
    drive_rate = drive["requests"] / drive["window_seconds"]
    writes = expected_writes(runs, policy)
    drive_calls = (writes["copy_drive_template"] + writes["share_drive_copy"]) / contacts
    return [
        Ceiling(
            "hubspot",
            f"{hubspot_rate:g} requests/s x {HUBSPOT_BATCH} per batch",
            f"{hubspot_inputs:.2f} batch inputs (read + update) per contact",
            hubspot_rate * HUBSPOT_BATCH / hubspot_inputs,
        ),
        Ceiling(
            "airtable",
            f"{airtable_rate:g} requests/s per base x {RECORDS_PER_REQUEST} records",
            f"{records:.2f} records (Contacts + checklist) per contact",
            airtable_rate * RECORDS_PER_REQUEST / records if records else float("inf"),
        ),
        Ceiling(
            "google drive",
            f"{drive_rate:g} requests/s",
            f"{drive_calls:.2f} copies + shares per contact",
            drive_rate / drive_calls if drive_calls else float("inf"),
        ),
    ]


# -- exactly-once checks ------------------------------------------------------------------------


def check_airtable(
    sandbox: httpx.Client, base: str, runs: list[Run], policy: LoadedPolicy
) -> tuple[bool, str]:
    tables = AirtableTables()

    def records(table: str) -> list[dict[str, Any]]:
        answer = sandbox.get(f"/_sandbox/airtable/{quote(base)}/{quote(table)}")
        rows: list[dict[str, Any]] = answer.raise_for_status().json()["records"]
        return rows

    expected = Counter({str(r.object_id): 1 for r in runs if r.role is not None})
    contacts = Counter(str(r["fields"].get(CONTACT_KEY_FIELD)) for r in records(tables.contacts))
    keys = Counter(r["fields"].get(CHECKLIST_KEY_FIELD) for r in records(tables.access_checklist))
    checklist = sum(len(policy.policy.roles[r.role].checklist) for r in runs if r.role)
    ok = contacts == expected and set(keys.values()) <= {1} and keys.total() == checklist
    return ok, (
        f"{contacts.total()} Contacts records for {expected.total()} mapped contacts"
        f" ({sum(n > 1 for n in contacts.values())} contacts twice),"
        f" {keys.total()} checklist records of {checklist}"
    )


def check_hubspot_roles(sandbox: httpx.Client, runs: list[Run]) -> tuple[bool, str]:
    updates = sandbox.get(
        "/_sandbox/hubspot/property-updates", params={"objectType": "contacts"}
    ).raise_for_status()
    written = Counter(
        u["objectId"] for u in updates.json()["results"] if ROLE_PROPERTY in u["properties"]
    )
    expected = Counter({str(r.object_id): 1 for r in runs if r.role is not None})
    return written == expected, (
        f"{written.total()} {ROLE_PROPERTY} writes for {expected.total()} mapped contacts"
        f" ({sum(n > 1 for n in written.values())} contacts written more than once)"
    )


def check_ledger(database_url: str, runs: list[Run], policy: LoadedPolicy) -> tuple[bool, str]:
    """The ledger is unique on (thread, step, target), so an entry is a write done once; the
    entries per step must be exactly the writes the outcomes call for, and all succeeded."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT step, status, count(*) FROM orchestrator.side_effects GROUP BY 1, 2"
        ).fetchall()
    steps: Counter[str] = Counter()
    unfinished = 0
    for step, status, count in rows:
        steps[step] += count
        unfinished += count if status != "succeeded" else 0
    expected = expected_writes(runs, policy)
    return steps == expected and unfinished == 0, (
        f"{steps.total()} entries for {expected.total()} expected writes,"
        f" {unfinished} pending or failed"
        + ("" if steps == expected else f"; per step {dict(steps)}, expected {dict(expected)}")
    )


def check_envelopes(database_url: str, events: int) -> tuple[bool, str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            SELECT e.status, coalesce(r.runs, 0), count(*)
            FROM orchestrator.event_envelopes e
            LEFT JOIN (SELECT unnest(envelope_ids) AS id, count(*) AS runs
                       FROM orchestrator.workflow_runs GROUP BY 1) r ON r.id = e.id
            GROUP BY 1, 2 ORDER BY 1, 2
            """
        ).fetchall()
    good = sum(
        n for status, runs, n in rows if status in ("processed", "awaiting_approval") and runs == 1
    )
    shape = ", ".join(f"{n} {status} with {runs} run(s)" for status, runs, n in rows)
    return good == events == sum(n for *_, n in rows), f"{events} events: {shape}"


def exactly_once_checks(
    sandbox: httpx.Client,
    database_url: str,
    airtable_base: str,
    runs: list[Run],
    policy: LoadedPolicy,
    events: int,
) -> list[tuple[str, bool, str]]:
    """(name, passed, what was found) of each check."""
    return [
        (name, *result)
        for name, result in (
            (
                "one Airtable Contacts record per contact",
                check_airtable(sandbox, airtable_base, runs, policy),
            ),
            ("each role written once in HubSpot", check_hubspot_roles(sandbox, runs)),
            (
                "one ledger entry per write, all succeeded",
                check_ledger(database_url, runs, policy),
            ),
            ("no envelope left unprocessed", check_envelopes(database_url, events)),
        )
    ]


# -- report -------------------------------------------------------------------------------------


def print_throughput(runs: list[Run], ingest: Ingest, contacts: int) -> float:
    ended = [r.ended for r in runs if r.ended is not None]
    done = sum(r.status not in ("requested", "running") for r in runs)
    window = (max(ended) if ended else time.time()) - ingest.first_sent
    rate = done / window if window > 0 else 0.0
    ingest_window = ingest.last_accepted - ingest.first_sent
    print(
        f"contacts          {contacts}: {ingest.events} contact.creation events in"
        f" {ingest.deliveries} signed {'delivery' if ingest.deliveries == 1 else 'deliveries'}"
        f" of up to {EVENTS_PER_DELIVERY}"
    )
    statuses = Counter(r.status for r in runs)
    outcomes = Counter(r.outcome or "-" for r in runs)
    print(f"workflow runs     {len(runs)}: {dict(statuses)}; outcomes {dict(outcomes)}")
    roles = Counter(r.role for r in runs if r.role is not None)
    print(f"roles             {', '.join(f'{k} {v}' for k, v in roles.most_common())}")
    print(
        f"ingest            {ingest.events / ingest_window:,.0f} events/s accepted"
        f" ({ingest_window:.2f} s for the burst)"
    )
    print(
        f"end to end        {rate:.3f} contacts/s ({rate * 60:.1f}/min): {done} runs done"
        f" {window:.0f} s after the first delivery"
    )
    return rate


def print_vendors(counts: dict[str, Counter[str]], contacts: int) -> bool:
    """Requests per vendor, 429s, Airtable penalties; False when Airtable was refused."""
    for vendor, outcomes in sorted(counts.items()):
        refused = outcomes.total() - sum(outcomes[o] for o in SANDBOX_SERVED)
        print(
            f"{vendor + ' requests':<18}{outcomes.total():>7}"
            f" ({outcomes.total() / contacts:.2f} per contact), {refused} answered 429"
            f" ({outcomes['rate_limited']} over the limit, {outcomes['penalised']} in a penalty)"
        )
    airtable = counts.get("airtable", Counter())
    penalties = airtable["rate_limited"]
    print(f"airtable penalties {penalties} ({airtable['penalised']} requests refused during one)")
    if penalties or airtable["penalised"]:
        print("FAIL  Airtable penalties: the base got more requests than its limit per second")
        return False
    return True


def print_dagster(jobs: dict[str, tuple[int, int]], runs: list[Run]) -> None:
    sensed = sum(s for s, _ in jobs.values())
    scheduled = sum(s for _, s in jobs.values())
    per_job = ", ".join(f"{name} {s}" for name, (s, _) in jobs.items() if s)
    print(f"dagster runs      {sensed} launched by the sensors ({per_job}), {scheduled} scheduled")
    if sensed:
        print(f"runs per dagster  {len(runs) / sensed:.2f} workflow runs per Dagster run")


def print_ceilings(limits: list[Ceiling], rate: float) -> None:
    for ceiling in limits:
        print(
            f"ceiling {ceiling.vendor:<10}{ceiling.contacts_per_second:>9.1f} contacts/s"
            f"  ({ceiling.limit}; {ceiling.load})"
        )
    binding = min(limits, key=lambda c: c.contacts_per_second)
    print(
        f"binding limit     {binding.vendor}: {binding.contacts_per_second:.1f} contacts/s;"
        f" measured {rate:.3f} contacts/s = {100 * rate / binding.contacts_per_second:.1f} % of it"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=3 * 3600.0, help="seconds to wait")
    parser.add_argument("--seed", type=int, default=11, help="seed of the generated contacts")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="baseline window")
    args = parser.parse_args()

    secret = "bench-bulk-import-secret"
    settings = bench_settings("bulk-import", secret)
    policy = load_policy(settings.policy_path)
    with (
        whole_stack(settings, secret) as stack,
        httpx.Client(base_url=stack.sandbox_url, timeout=120.0) as sandbox,
    ):
        database_url = stack.database.url
        if progress(database_url)[0]:
            raise SystemExit(
                "the database already holds events: point DATABASE_URL at an empty one"
            )
        contact_ids = seed_contacts(sandbox, args.contacts, args.seed)
        time.sleep(10.0)  # let the daemon and code servers finish starting
        idle_rate = idle_cpu_rate(args.idle_seconds)

        cpu_start, started = cpu_seconds(), time.monotonic()
        ingest = asyncio.run(send_burst(stack.api_url, secret, creation_events(contact_ids)))
        settled = wait_settled(database_url, len(contact_ids), ingest.first_sent, args.timeout)
        elapsed = time.monotonic() - started
        cpu_used = cpu_seconds() - cpu_start - idle_rate * elapsed

        runs = workflow_runs(database_url)
        jobs = dagster_runs(database_url)
        counts = vendor_requests(sandbox)
        calls = airtable_calls(database_url)
        batching = batch_timing(database_url)
        config = sandbox.get("/_sandbox/config").raise_for_status().json()
        checks = exactly_once_checks(
            sandbox, database_url, settings.airtable_base_id, runs, policy, len(contact_ids)
        )

    if not settled:
        print(f"TIMEOUT after {args.timeout:.0f} s: not every run finished; partial figures follow")
    rate = print_throughput(runs, ingest, len(contact_ids))
    no_penalty = print_vendors(counts, len(contact_ids))
    print(
        "airtable calls    "
        + ", ".join(f"{call} {n} ({n / len(contact_ids):.2f})" for call, n in calls.most_common())
    )
    print_dagster(jobs, runs)
    print(f"batches           {batching}")
    done = sum(r.status not in ("requested", "running") for r in runs)
    print(
        f"CPU per workflow  {cpu_used / max(done, 1):.2f} s (machine-wide, idle baseline removed)"
    )
    print_ceilings(ceilings(config, runs, len(contact_ids), policy), rate)
    # The binding ceiling counts written records only; the lookups spend the same budget.
    base_rate = config["airtable"]["requests_per_second"]
    used = counts.get("airtable", Counter()).total() * rate / len(contact_ids)
    print(
        f"airtable budget   {used:.2f} of {base_rate:g} requests/s spent while the backlog"
        f" drained ({100 * used / base_rate:.0f} %), lookups included"
    )
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    passed = settled and no_penalty and all(ok for _, ok, _ in checks)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
