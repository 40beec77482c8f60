"""The console's runs pages: the history with its filters and pages, and a run with its Dagster
runs, side effects (vendor ids), events, approvals, exceptions and links; on runs written by
the product's own write helpers, as tests/test_runs_api.py writes them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from orchestrator_core.db.pool import HeldConnection
from orchestrator_core.ledger.ledger import Ledger
from orchestrator_core.ledger.records import WriteResult
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records import runs
from orchestrator_core.records.approvals import ApprovalRequest, request_approval
from orchestrator_core.records.dispatch import dispatch_received
from orchestrator_core.records.exceptions import NewException, open_exception
from tests.conftest import WEBHOOK_SECRET
from tests.console.support import signed_in_console
from tests.support import ApiUsers, dagster_link, hubspot_event, post_delivery, workflow_run_id

BIG = 2**63
MIRROR_TARGET = "airtable:Accounts:9001"
MIRROR_ID = "recMirror9001"
ORDER_TARGET = "airtable:Purchase Orders:deal-5001"
ORDER_ID = "recOrder5001"
_ROW = re.compile(r'data-testid="run-row" data-run-id="(\d+)"')


@dataclass
class World:
    """Five runs: company 9001 (succeeded on its second Dagster run after an exception, one
    Airtable write in the ledger), contact 7001 (running), deal 5001's kickoff (parked at an
    approval), deal 5001's procurement (failed, two events, a purchase order written), contact
    7002 (requested, by a later dispatch pass)."""

    company: int
    contact: int
    kickoff: int
    procurement: int
    late_contact: int
    envelopes: dict[str, int]
    exception_id: int
    approval_id: int

    @property
    def newest_first(self) -> list[int]:
        return [self.late_contact, self.procurement, self.kickoff, self.contact, self.company]


def write(
    db: psycopg.Connection[Any], thread_id: str, step: str, target: str, vendor_id: str
) -> None:
    """A succeeded external write in the ledger, through the ledger itself."""
    Ledger(HeldConnection(db)).run_once(
        thread_id=thread_id,
        step=step,
        target=target,
        write=lambda _key: WriteResult(vendor_id, {"id": vendor_id}),
    )


def seed_world(client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
    names = ["company", "contact", "dealstage", "amount", "currency", "ticket"]
    events = [
        hubspot_event("company.creation", objectId=9001),
        hubspot_event("contact.creation", objectId=7001),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="dealstage"),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="amount"),
        hubspot_event("deal.propertyChange", objectId=5001, propertyName="deal_currency_code"),
        hubspot_event("ticket.creation.v2", objectId=1),
    ]
    envelopes = dict(zip(names, post_delivery(client, events, WEBHOOK_SECRET), strict=True))
    assert dispatch_received(db, policy, limit=100).runs_created == 4
    late = hubspot_event("contact.propertyChange", objectId=7002, propertyName="jobtitle")
    (envelopes["jobtitle"],) = post_delivery(client, [late], WEBHOOK_SECRET)
    assert dispatch_received(db, policy, limit=100).runs_created == 1

    company = workflow_run_id(db, "company_intake", 9001)
    runs.begin_attempt(
        db, workflow_run_id=company, dagster_run_id="dg-a1", job_name="company_intake", kind="start"
    )
    runs.record_step(db, workflow_run_id=company, dagster_run_id="dg-a1", step="load_company")
    exception = open_exception(
        db,
        NewException(
            kind="connector_permanent",
            severity="error",
            message="hubspot update failed: HTTP 400",
            suggested_fix="correct the record in HubSpot, then re-execute the run",
            step="write_hubspot",
        ),
        run=runs.get_run(db, company),
        dagster_run_id="dg-a1",
    )
    runs.fail(db, workflow_run_id=company, dagster_run_id="dg-a1", error="hubspot: HTTP 400")
    runs.begin_attempt(
        db,
        workflow_run_id=company,
        dagster_run_id="dg-a2",
        job_name="company_intake",
        kind="resume",
    )
    runs.record_step(db, workflow_run_id=company, dagster_run_id="dg-a2", step="mirror_account")
    company_run = runs.get_run(db, company)
    assert company_run is not None
    write(db, company_run.thread_id, "mirror_account", MIRROR_TARGET, MIRROR_ID)
    runs.finish(
        db,
        workflow_run_id=company,
        dagster_run_id="dg-a2",
        outcome="mirrored",
        message="company mirrored to Airtable",
        state_summary={"company": {"name": "Acme GmbH"}},
    )

    contact = workflow_run_id(db, "contact_role_mapping", 7001)
    runs.begin_attempt(
        db, workflow_run_id=contact, dagster_run_id="dg-b1", job_name="contact", kind="start"
    )

    kickoff = workflow_run_id(db, "deal_kickoff", 5001)
    runs.begin_attempt(
        db, workflow_run_id=kickoff, dagster_run_id="dg-c1", job_name="deal_kickoff", kind="start"
    )
    approval = request_approval(
        db,
        run=runs.get_run(db, kickoff),
        interrupt_id="interrupt-1",
        request=ApprovalRequest(
            kind="kickoff",
            proposal={"slot": "2026-12-03T10:00:00Z"},
            reason="kickoff slots need the account manager's choice",
            policy_snapshot={"version": policy.version, "content_hash": policy.content_hash},
            approver_role="operator",
            due_at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
            requested_by="hubspot:userId:45678",
        ),
        dagster_run_id="dg-c1",
    )
    runs.park(
        db,
        workflow_run_id=kickoff,
        dagster_run_id="dg-c1",
        state_summary={"slots": 3},
        message="waiting for the kickoff slot",
    )

    procurement = workflow_run_id(db, "procurement_approval", 5001)
    runs.begin_attempt(
        db, workflow_run_id=procurement, dagster_run_id="dg-d1", job_name="proc", kind="start"
    )
    procurement_run = runs.get_run(db, procurement)
    assert procurement_run is not None
    write(db, procurement_run.thread_id, "create_purchase_order", ORDER_TARGET, ORDER_ID)
    runs.fail(db, workflow_run_id=procurement, dagster_run_id="dg-d1", error="budget unknown")

    return World(
        company=company,
        contact=contact,
        kickoff=kickoff,
        procurement=procurement,
        late_contact=workflow_run_id(db, "contact_role_mapping", 7002),
        envelopes=envelopes,
        exception_id=exception["id"],
        approval_id=approval.id,
    )


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
    return seed_world(client, db, policy)


@pytest.fixture
def viewer(client: TestClient, api_users: ApiUsers) -> TestClient:
    signed_in_console(client, api_users.emails["viewer"])
    return client


@pytest.fixture
def operator(client: TestClient, api_users: ApiUsers) -> TestClient:
    signed_in_console(client, api_users.emails["operator"])
    return client


def listed(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(i) for i in _ROW.findall(response.text)]


def test_the_list_shows_every_run_newest_first_with_links(viewer: TestClient, world: World) -> None:
    page = viewer.get("/console/runs")

    assert listed(page) == world.newest_first
    assert f'href="/console/runs/{world.company}"' in page.text
    assert f'href="{dagster_link("dg-a2")}"' in page.text  # the company's last Dagster run
    assert 'aria-current="page">Runs' in page.text.replace("\n", "")
    assert "awaiting approval" in page.text and "mirrored" in page.text
    assert 'data-testid="older"' not in page.text  # one page


def test_an_empty_history_says_where_runs_come_from(viewer: TestClient, db: Any) -> None:
    page = viewer.get("/console/runs")

    assert listed(page) == []
    assert "No workflow run yet" in page.text and 'href="/console/events"' in page.text


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"workflow": "contact_role_mapping"}, ["late_contact", "contact"]),
        ({"status": "failed"}, ["procurement"]),
        ({"status": "awaiting_approval"}, ["kickoff"]),
        ({"object_type": "deal"}, ["procurement", "kickoff"]),
        ({"object_type": "contact", "object_id": "7002"}, ["late_contact"]),
        ({"workflow": "contact_role_mapping", "status": "running"}, ["contact"]),
        # the filter form sends its empty fields: no filter
        (
            {"workflow": "", "status": "", "object_type": "", "object_id": "", "requested_to": ""},
            ["late_contact", "procurement", "kickoff", "contact", "company"],
        ),
    ],
)
def test_filters(
    viewer: TestClient, world: World, params: dict[str, str], expected: list[str]
) -> None:
    page = viewer.get("/console/runs", params=params)

    assert listed(page) == [getattr(world, name) for name in expected]
    for name, value in params.items():
        if name in ("workflow", "status") and value:
            assert f'<option value="{value}" selected>' in page.text  # the form keeps them


def test_filters_by_event_replay_and_time(viewer: TestClient, world: World, db: Any) -> None:
    by_event = viewer.get("/console/runs", params={"envelope_id": world.envelopes["currency"]})
    assert listed(by_event) == [world.procurement]
    assert f'href="/console/events/{world.envelopes["currency"]}"' in by_event.text

    (late_at,) = db.execute(
        "SELECT requested_at FROM orchestrator.workflow_runs WHERE id = %s", (world.late_contact,)
    ).fetchone()
    # A `datetime-local` field has no zone: the console reads it as UTC.
    after = (late_at.astimezone(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    before = (late_at.astimezone(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    assert listed(viewer.get("/console/runs", params={"requested_from": after})) == []
    assert listed(viewer.get("/console/runs", params={"requested_to": after})) == world.newest_first
    assert listed(viewer.get("/console/runs", params={"requested_from": before})) == [
        world.late_contact,
        world.procurement,
        world.kickoff,
        world.contact,
        world.company,
    ]
    aware = late_at.isoformat()
    assert listed(viewer.get("/console/runs", params={"requested_from": aware})) == [
        world.late_contact
    ]


def test_no_match_says_so_and_offers_every_run(viewer: TestClient, world: World) -> None:
    page = viewer.get("/console/runs", params={"workflow": "deal_kickoff", "status": "failed"})

    assert listed(page) == []
    assert "No run matches these filters" in page.text
    assert 'href="/console/runs"' in page.text


def test_pages_follow_the_cursor_and_keep_the_filters(viewer: TestClient, world: World) -> None:
    seen: list[int] = []
    url = "/console/runs?limit=2"
    pages = 0
    while url:
        page = viewer.get(url.replace("&amp;", "&"))
        seen += listed(page)
        pages += 1
        older = re.search(r'<a href="([^"]+)" data-testid="older"', page.text)
        url = older.group(1) if older else ""
        if url:
            assert "limit=2" in url and "before_id=" in url
    assert pages == 3
    assert seen == world.newest_first

    first = viewer.get("/console/runs", params={"workflow": "contact_role_mapping", "limit": 1})
    assert listed(first) == [world.late_contact]
    older = re.search(r'<a href="([^"]+)" data-testid="older"', first.text)
    assert older is not None and "workflow=contact_role_mapping" in older.group(1)
    rest = viewer.get(older.group(1).replace("&amp;", "&"))
    assert listed(rest) == [world.contact]
    assert 'data-testid="older"' not in rest.text
    assert 'data-testid="newest"' in rest.text


def test_htmx_asks_for_the_results_only(viewer: TestClient, world: World) -> None:
    part = viewer.get("/console/runs?status=failed", headers={"HX-Request": "true"})

    assert part.status_code == 200
    assert part.text.lstrip().startswith('<section id="run-results"')
    assert "<html" not in part.text and "run-filters" not in part.text
    assert listed(part) == [world.procurement]


def test_a_run_shows_its_attempts_side_effects_events_and_exception(
    viewer: TestClient, world: World
) -> None:
    page = viewer.get(f"/console/runs/{world.company}")

    assert page.status_code == 200, page.text
    text = page.text
    assert 'data-testid="run-status">succeeded' in text
    assert "mirrored · company mirrored to Airtable" in text
    # its Dagster runs, each linked to the Dagster UI, the first with its error
    assert text.count('data-testid="attempt-row"') == 2
    for dagster_run in ("dg-a1", "dg-a2"):
        assert f'href="{dagster_link(dagster_run)}"' in text
    assert "hubspot: HTTP 400" in text
    assert 'data-testid="run-steps">load_company → mirror_account' in text
    # the ledger's write with the vendor's id
    assert text.count('data-testid="side-effect-row"') == 1
    assert MIRROR_TARGET in text and f"<code>{MIRROR_ID}</code>" in text
    # its event and its exception, linked to their pages
    assert f'href="/console/events/{world.envelopes["company"]}"' in text
    assert f'href="/console/exceptions/{world.exception_id}"' in text
    assert "hubspot update failed: HTTP 400" in text
    assert "Acme GmbH" in text  # the state summary
    assert "hx-trigger" not in text  # finished: nothing to refresh


def test_a_parked_run_links_its_approval(viewer: TestClient, world: World) -> None:
    page = viewer.get(f"/console/runs/{world.kickoff}")

    assert f'href="/console/approvals/{world.approval_id}"' in page.text
    assert "waiting for the kickoff slot" in page.text
    assert 'data-testid="no-side-effects"' in page.text


def test_a_requested_run_refreshes_itself_until_it_is_done(
    viewer: TestClient, world: World
) -> None:
    page = viewer.get(f"/console/runs/{world.late_contact}")
    assert 'data-testid="no-attempts"' in page.text
    assert "not launched yet" in page.text
    assert f'hx-get="/console/runs/{world.late_contact}" hx-trigger="every 5s"' in page.text

    part = viewer.get(f"/console/runs/{world.late_contact}", headers={"HX-Request": "true"})
    assert part.text.lstrip().startswith('<div id="run"') and "<html" not in part.text


def test_an_operator_may_plan_a_replay_of_a_finished_run_a_viewer_may_not(
    client: TestClient, api_users: ApiUsers, world: World
) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    assert "/console/replays" not in client.get(f"/console/runs/{world.procurement}").text

    signed_in_console(client, api_users.emails["operator"])
    page = client.get(f"/console/runs/{world.procurement}").text
    assert 'data-testid="replay-plan-button"' in page
    for name in ("amount", "currency"):
        assert f'name="envelope_ids" value="{world.envelopes[name]}"' in page
    # a run in progress offers none (a replay would skip it)
    assert (
        'data-testid="replay-plan-button"' not in client.get(f"/console/runs/{world.contact}").text
    )


def test_an_unknown_run_is_a_404_page(viewer: TestClient, world: World) -> None:
    page = viewer.get("/console/runs/999")

    assert page.status_code == 404
    assert "no workflow run with id 999" in page.text and "<html" in page.text


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/console/runs/abc", "path.workflow_run_id"),
        ("/console/runs/0", "path.workflow_run_id"),
        (f"/console/runs/{BIG}", "path.workflow_run_id"),
        ("/console/runs?status=done", "query.status"),
        ("/console/runs?workflow=no_such_workflow", "query.workflow"),
        (f"/console/runs?object_id={BIG}", "query.object_id"),
        ("/console/runs?object_type=Not%20A%20Type", "query.object_type"),
        ("/console/runs?requested_from=yesterday", "query.requested_from"),
        ("/console/runs?before_id=0", "query.before_id"),
        ("/console/runs?limit=201", "query.limit"),
    ],
)
def test_bad_input_is_a_4xx_page_naming_it(viewer: TestClient, url: str, named: str) -> None:
    page = viewer.get(url)

    assert page.status_code == 422, page.text
    assert named in page.text and 'data-testid="error"' in page.text


def test_a_nul_in_a_filter_is_refused_not_a_500(viewer: TestClient) -> None:
    page = viewer.get("/console/runs?object_type=a%00")

    assert page.status_code == 422
    assert "NUL" in page.text


def test_without_a_session_the_pages_ask_for_a_login(client: TestClient, world: World) -> None:
    for url in ("/console/runs", f"/console/runs/{world.company}"):
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login?next=")
