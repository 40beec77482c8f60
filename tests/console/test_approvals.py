"""The console's approvals: the pending queue (soonest due first, overdue and escalated marked,
each with its proposal, reason, rule and frozen snapshot), its filters, pages and empty state;
one approval's page with the decision form shown only to whoever may use it; decisions through
the form (HTMX and plain) recorded by the API's core function with its audit row; every
refusal (role, four eyes, edits, CSRF, ids) as a 4xx with nothing changed; and the resumed run
followed by a polled block that stops once the run has finished.

Approvals are written as tests/test_approvals_api.py writes them: a webhook delivery, the
dispatcher's runs, `request_approval` and `runs.park` as the runner does."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from orchestrator_core.policy import LoadedPolicy, policy_snapshot
from orchestrator_core.records import runs
from orchestrator_core.records.approvals import (
    Approval,
    ApprovalRequest,
    continuations_due,
    escalate_due,
    mark_continuation,
    request_approval,
)
from orchestrator_core.records.dispatch import dispatch_received
from tests.conftest import WEBHOOK_SECRET
from tests.console.support import signed_in_console
from tests.support import (
    ApiUsers,
    add_user,
    dagster_link,
    hubspot_event,
    post_delivery,
    workflow_run_id,
)

RAISER = "hubspot:userId:45678"
RAISER_EMAIL = "Sam.Sales@HarborLabs.example"
SAM = "sam.sales@harborlabs.example"  # the raiser's product account (operator)
DECIDE = "/console/approvals/{}/decision"
HTMX = {"HX-Request": "true"}

SLOTS = [
    {
        "index": i,
        "start": f"2026-12-0{3 + i}T10:00:00+01:00",
        "end": f"2026-12-0{3 + i}T11:00:00+01:00",
        "label": f"Thu 0{3 + i} Dec 2026, 10:00-11:00 (Europe/Berlin)",
    }
    for i in range(3)
]
KICKOFF_PROPOSAL: dict[str, Any] = {
    "required": True,
    "title": "Kickoff: Acme GmbH",
    "deal": {"id": "5001", "name": "Acme platform", "stage": "closedwon"},
    "company": {"id": "9001", "name": "Acme GmbH"},
    "organiser": {
        "owner_id": "11",
        "name": "Casey Success",
        "email": "casey@harborlabs.example",
        "teams": ["Customer Success"],
        "reason": "primary_team",
        "explanation": "first deal team member whose primary team is Customer Success",
    },
    "duration_minutes": 60,
    "time_zone": "Europe/Berlin",
    "slots": SLOTS,
    "attendees": {
        "internal": [
            {
                "owner_id": "11",
                "name": "Casey Success",
                "email": "casey@harborlabs.example",
                "teams": ["Customer Success"],
                "role": "owner",
                "runs_kickoff": True,
            }
        ],
        "customer": [
            {
                "contact_id": "701",
                "name": "Jana Sponsor",
                "email": "jana@acme.example",
                "job_title": "CFO",
                "role": "executive_sponsor",
                "role_source": "inferred:title_rules",
                "needs_review": True,
            }
        ],
    },
    "unchecked_calendars": [],
    "notes": ["Roles inferred from job titles (not yet mapped): Jana Sponsor."],
}
PROCUREMENT_PROPOSAL: dict[str, Any] = {
    "request_id": "PR-5001",
    "deal": {"id": "5001", "name": "Acme platform"},
    "company": {"id": "9001", "name": "Acme GmbH"},
    "vendor": "Acme GmbH",
    "amount": "75000.00",
    "currency": "EUR",
    "requester": "sam.sales@harborlabs.example",
    "cost_centre": {"code": "CC-1000", "name": "Sales EMEA"},
    "budget": {
        "currency": "EUR",
        "fiscal_year": 2026,
        "annual_budget": "1200000",
        "committed": "1150000",
        "remaining": "50000",
        "remaining_after": "-25000.00",
        "currency_mismatch": False,
    },
    "notes": [],
}


@dataclass
class World:
    """Four pending approvals. By id: the kickoff of deal 5001 (operator, due in 2 days), the
    procurement of deal 5001 (admin, due in 1 day, escalated), the kickoff of deal 5002 (due in
    3 days), and an overdue kickoff of deal 5003 (due 5 minutes ago, not expired yet)."""

    kickoff_run: int
    kickoff: int
    procurement: int
    second_kickoff: int
    overdue: int

    @property
    def soonest_due_first(self) -> list[int]:
        return [self.overdue, self.procurement, self.kickoff, self.second_kickoff]


def park_with_approval(
    db: psycopg.Connection[Any], run_id: int, dagster_run_id: str, request: ApprovalRequest
) -> Approval:
    """What the runner does when a graph interrupts: the approval, then the run parks."""
    runs.begin_attempt(
        db, workflow_run_id=run_id, dagster_run_id=dagster_run_id, job_name="job", kind="start"
    )
    run = runs.get_run(db, run_id)
    assert run is not None
    approval = request_approval(
        db, run=run, interrupt_id="ask_approval", request=request, dagster_run_id=dagster_run_id
    )
    runs.park(
        db,
        workflow_run_id=run_id,
        dagster_run_id=dagster_run_id,
        state_summary={"approval_id": approval.id},
        message=f"waiting for the {request.kind} approval",
    )
    return approval


def kickoff(snapshot: dict[str, Any], due_at: datetime) -> ApprovalRequest:
    return ApprovalRequest(
        kind="kickoff",
        proposal=KICKOFF_PROPOSAL,
        reason="Invitations to 2 people go out only once an approver has picked a slot.",
        policy_snapshot=snapshot,
        approver_role="operator",
        due_at=due_at,
        requested_by=RAISER,
        requested_by_email=RAISER_EMAIL,
    )


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
    deals = (5001, 5002, 5003)
    events = [
        hubspot_event("deal.propertyChange", objectId=deal, propertyName="dealstage")
        for deal in deals
    ]
    events.append(hubspot_event("deal.propertyChange", objectId=5001, propertyName="amount"))
    post_delivery(client, events, WEBHOOK_SECRET)
    assert dispatch_received(db, policy, limit=100).runs_created == 4
    kickoff_runs = [workflow_run_id(db, "deal_kickoff", deal) for deal in deals]
    now = datetime.now(UTC).replace(microsecond=0)
    kickoff_snapshot = policy_snapshot(policy, sections=["deal_kickoff", "approvals"])
    first = park_with_approval(
        db, kickoff_runs[0], "dg-k1", kickoff(kickoff_snapshot, now + timedelta(days=2))
    )
    procurement = park_with_approval(
        db,
        workflow_run_id(db, "procurement_approval", 5001),
        "dg-p1",
        ApprovalRequest(
            kind="procurement",
            proposal=PROCUREMENT_PROPOSAL,
            reason="Deal amount 75,000.00 EUR is at or above the 50,000.00 EUR threshold.",
            policy_snapshot=policy_snapshot(policy, sections=["procurement", "approvals"]),
            approver_role="admin",
            due_at=now + timedelta(days=1),
            requested_by=RAISER,
            requested_by_email=RAISER_EMAIL,
        ),
    )
    second = park_with_approval(
        db, kickoff_runs[1], "dg-k2", kickoff(kickoff_snapshot, now + timedelta(days=3))
    )
    overdue = park_with_approval(
        db, kickoff_runs[2], "dg-k3", kickoff(kickoff_snapshot, now - timedelta(minutes=5))
    )
    (escalated,) = escalate_due(db, lead_by_kind={"procurement": timedelta(days=2)}, now=now)
    assert escalated.id == procurement.id
    return World(kickoff_runs[0], first.id, procurement.id, second.id, overdue.id)


def stored(db: psycopg.Connection[Any], approval_id: int) -> dict[str, Any]:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT status, decided_by, decision_note, edits, updated_at"
            " FROM orchestrator.approvals WHERE id = %s",
            (approval_id,),
        ).fetchone()
    assert row is not None
    return row


def audit_actions(db: psycopg.Connection[Any], approval_id: int) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT actor, action FROM orchestrator.audit_log"
        " WHERE entity_type = 'approval' AND entity_id = %s ORDER BY id",
        (str(approval_id),),
    ).fetchall()
    return [(str(actor), str(action)) for actor, action in rows]


def audit_count(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM orchestrator.audit_log").fetchone()
    assert row is not None
    return int(row[0])


def listed(html: str) -> list[int]:
    return [
        int(i) for i in re.findall(r'data-testid="approval-row" data-approval-id="(\d+)"', html)
    ]


def item(html: str, approval_id: int) -> str:
    """One item of the queue's HTML."""
    start = html.index(f'data-approval-id="{approval_id}"')
    end = html.find('data-testid="approval-row"', start + 1)
    return html[start : end if end != -1 else len(html)]


def post_decision(
    client: TestClient,
    approval_id: int | str,
    token: str | None,
    *,
    htmx: bool = False,
    **fields: str,
) -> Any:
    data = dict(fields)
    if token is not None:
        data["csrf_token"] = token
    return client.post(DECIDE.format(approval_id), data=data, headers=HTMX if htmx else None)


def error_code(response: Any) -> str:
    match = re.search(r'data-testid="error" data-code="([^"]+)"', response.text)
    assert match, response.text
    return match.group(1)


# -- the queue --------------------------------------------------------------------------------


def test_the_queue_is_sorted_by_due_time_with_its_context(
    client: TestClient, world: World, api_users: ApiUsers, policy: LoadedPolicy
) -> None:
    signed_in_console(client, api_users.emails["operator"])
    response = client.get("/console/approvals")
    assert response.status_code == 200, response.text
    html = response.text
    assert 'aria-current="page"' in html and 'href="/console/approvals"' in html
    assert listed(html) == world.soonest_due_first

    overdue = item(html, world.overdue)
    assert 'data-testid="badge-overdue"' in overdue
    assert 'data-testid="badge-escalated"' not in overdue
    procurement = item(html, world.procurement)
    assert 'data-testid="badge-escalated"' in procurement
    assert 'data-testid="badge-overdue"' not in procurement
    # The procurement: amount, vendor, cost centre, budget position, the threshold rule.
    assert "75,000.00 EUR" in procurement
    assert "Acme GmbH" in procurement
    assert "CC-1000 Sales EMEA" in procurement
    assert "50,000.00 EUR left of 1,200,000.00 EUR" in procurement
    assert "after this order: -25,000.00 EUR" in procurement
    assert 'data-testid="badge-over-budget"' in procurement
    assert "<code>procurement.threshold</code></dt><dd>50,000.00 EUR</dd>" in procurement
    assert "at or above the 50,000.00 EUR threshold" in procurement
    # Olive's role cannot decide it: said on the item, no invitation to decide.
    assert "needs admin" in procurement
    assert "Review and decide" not in procurement

    first = item(html, world.kickoff)
    for slot in SLOTS:
        assert slot["label"] in first
    assert "Casey Success (runs it)" in first and "Jana Sponsor (executive_sponsor)" in first
    assert "<code>deal_kickoff.approval.approver_role</code></dt><dd>operator</dd>" in first
    assert policy.content_hash in first  # the frozen snapshot
    assert RAISER_EMAIL in first and RAISER in first
    assert f'href="/console/approvals/{world.kickoff}"' in first
    assert "Review and decide" in first
    assert 'data-testid="badge-overdue"' not in first


def test_an_empty_queue_says_what_happens_next(client: TestClient, api_users: ApiUsers) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    response = client.get("/console/approvals")
    assert response.status_code == 200, response.text
    assert 'data-testid="approvals-empty"' in response.text
    assert "No approvals are waiting for a decision" in response.text
    assert listed(response.text) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("workflow=procurement_approval", ["procurement"]),
        ("workflow=deal_kickoff", ["overdue", "kickoff", "second_kickoff"]),
        ("role=operator", ["overdue", "kickoff", "second_kickoff"]),
        ("role=admin", ["overdue", "procurement", "kickoff", "second_kickoff"]),
        ("workflow=&role=", ["overdue", "procurement", "kickoff", "second_kickoff"]),
        ("workflow=procurement_approval&role=operator", []),
        ("role=viewer", []),
    ],
)
def test_filters_are_in_the_url(
    client: TestClient, world: World, api_users: ApiUsers, query: str, expected: list[str]
) -> None:
    signed_in_console(client, api_users.emails["operator"])
    response = client.get(f"/console/approvals?{query}")
    assert response.status_code == 200, response.text
    assert listed(response.text) == [getattr(world, name) for name in expected]
    if not expected:
        assert "No pending approval matches these filters" in response.text
    # The form shows the filters it applied.
    if "role=operator" in query:
        assert '<option value="operator" selected>Only ones I may decide (operator)' in (
            response.text
        )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("workflow=no_such_workflow", "query.workflow"),
        ("role=owner", "query.role"),
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
        ("after_id=0", "query.after_id"),
        ("after_id=99999999999999999999", "query.after_id"),
        ("after_id=x", "query.after_id"),
    ],
)
def test_bad_filters_are_a_422_page_naming_the_parameter(
    client: TestClient, api_users: ApiUsers, query: str, field: str
) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    response = client.get(f"/console/approvals?{query}")
    assert response.status_code == 422, response.text
    assert "text/html" in response.headers["content-type"]
    assert f"<code>{field}</code>" in response.text


def test_a_nul_in_a_filter_is_422_naming_it(client: TestClient, api_users: ApiUsers) -> None:
    """Refused before any route by the app's middleware (as JSON, for every path)."""
    signed_in_console(client, api_users.emails["viewer"])
    response = client.get("/console/approvals?workflow=deal%00kickoff")
    assert response.status_code == 422, response.text
    assert "query.workflow" in response.text


def test_pages_follow_the_due_order(client: TestClient, world: World, api_users: ApiUsers) -> None:
    signed_in_console(client, api_users.emails["operator"])
    first = client.get("/console/approvals?limit=3&workflow=")
    assert listed(first.text) == world.soonest_due_first[:3]
    match = re.search(r'href="([^"]+)" data-testid="next-page"', first.text)
    assert match, first.text
    next_url = match.group(1).replace("&amp;", "&")
    assert f"after_id={world.kickoff}" in next_url and "limit=3" in next_url
    rest = client.get(next_url)
    assert listed(rest.text) == world.soonest_due_first[3:]
    assert 'data-testid="next-page"' not in rest.text
    assert 'data-testid="first-page"' in rest.text
    # A filter stays on the next page's link.
    kickoffs = client.get("/console/approvals?limit=1&workflow=deal_kickoff")
    assert listed(kickoffs.text) == [world.overdue]
    match = re.search(r'href="([^"]+)" data-testid="next-page"', kickoffs.text)
    assert match
    assert listed(client.get(match.group(1).replace("&amp;", "&")).text) == [world.kickoff]


def test_htmx_asks_for_the_results_alone(
    client: TestClient, world: World, api_users: ApiUsers
) -> None:
    signed_in_console(client, api_users.emails["operator"])
    response = client.get("/console/approvals?workflow=procurement_approval", headers=HTMX)
    assert response.status_code == 200, response.text
    assert response.text.lstrip().startswith('<section id="approval-results"')
    assert "<html" not in response.text and "approval-filters" not in response.text
    assert listed(response.text) == [world.procurement]


# -- one approval -----------------------------------------------------------------------------


def test_the_detail_page_has_the_whole_context_and_the_form(
    client: TestClient, world: World, api_users: ApiUsers, policy: LoadedPolicy
) -> None:
    signed_in_console(client, api_users.emails["operator"])
    response = client.get(f"/console/approvals/{world.kickoff}")
    assert response.status_code == 200, response.text
    html = response.text
    assert f"Approval {world.kickoff}: kickoff" in html
    assert "Invitations to 2 people go out only once an approver has picked a slot." in html
    for slot in SLOTS:
        assert slot["label"] in html
    assert "Casey Success" in html and "jana@acme.example" in html and "needs review" in html
    assert "first deal team member whose primary team is Customer Success" in html
    assert "<code>deal_kickoff.approval.due_hours</code></dt><dd>24</dd>" in html
    assert f"version {policy.version}" in html and policy.content_hash in html
    assert "&#34;slots_to_propose&#34;: 3" in html  # the frozen snapshot itself, escaped
    assert RAISER_EMAIL in html
    assert f'href="/console/runs/{world.kickoff_run}"' in html
    assert dagster_link("dg-k1") in html
    # The form: the proposed slots to choose from, the three decisions, the token.
    assert 'data-testid="decision-form"' in html
    assert html.count('<option value="', html.index('name="slot_index"')) >= 3
    for button in ("approve", "approve-with-edits", "reject"):
        assert f'data-testid="{button}"' in html
    assert 'name="csrf_token"' in html
    # Pending: nothing to follow yet.
    assert 'data-polling="off"' in html and 'hx-trigger="every 3s"' not in html


def test_an_overdue_approval_offers_no_form(
    client: TestClient, world: World, api_users: ApiUsers
) -> None:
    signed_in_console(client, api_users.emails["operator"])
    html = client.get(f"/console/approvals/{world.overdue}").text
    assert 'data-testid="badge-overdue"' in html
    assert 'data-testid="decision-form"' not in html
    assert "past its due time" in html


def test_procurement_detail_shows_amount_and_budget(
    client: TestClient, world: World, api_users: ApiUsers
) -> None:
    signed_in_console(client, api_users.emails["admin"])
    html = client.get(f"/console/approvals/{world.procurement}").text
    assert "<strong>75,000.00 EUR</strong>" in html
    assert "PR-5001" in html and "CC-1000 Sales EMEA" in html
    assert "after this order: -25,000.00 EUR" in html
    assert 'name="amount"' in html and 'data-testid="decision-form"' in html


# -- deciding ---------------------------------------------------------------------------------


def test_an_operator_approves_a_kickoff_with_another_slot(
    client: TestClient, db: psycopg.Connection[Any], world: World, api_users: ApiUsers
) -> None:
    email = api_users.emails["operator"]
    token = signed_in_console(client, email)
    response = post_decision(
        client,
        world.kickoff,
        token,
        htmx=True,
        decision="approve_with_edits",
        slot_index="2",
        note="  Thursday suits the customer.  ",
    )
    assert response.status_code == 200, response.text
    # The card alone, swapped in place, with the result.
    assert response.text.lstrip().startswith('<article id="approval-card"')
    assert "<html" not in response.text
    assert 'data-testid="decision-result"' in response.text
    assert f"Approval {world.kickoff} approved by user:{email}." in response.text
    assert 'data-testid="decision-form"' not in response.text
    assert 'data-testid="chosen-slot"' in response.text
    assert f"slot 2: {SLOTS[2]['label']}" in response.text
    # The run waits for its continuation: the block polls.
    assert 'hx-trigger="every 3s"' in response.text and 'data-polling="on"' in response.text

    row = stored(db, world.kickoff)
    assert row["status"] == "approved"
    assert row["edits"] == {"slot_index": 2}
    assert row["decided_by"] == f"user:{email}"
    assert row["decision_note"] == "Thursday suits the customer."
    assert audit_actions(db, world.kickoff) == [
        ("system", "approval.requested"),
        (f"user:{email}", "approval.approved"),
    ]


def test_a_plain_form_post_answers_the_whole_page(
    client: TestClient, db: psycopg.Connection[Any], world: World, api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    response = post_decision(
        client, world.second_kickoff, token, decision="reject", note="customer asked to wait"
    )
    assert response.status_code == 200, response.text
    assert "<html" in response.text and 'id="flash"' in response.text
    assert 'data-testid="decision-result"' in response.text
    assert "customer asked to wait" in response.text
    row = stored(db, world.second_kickoff)
    assert (row["status"], row["edits"]) == ("rejected", {})
    assert audit_actions(db, world.second_kickoff)[-1][1] == "approval.rejected"


def test_an_admin_approves_a_procurement_with_a_lower_amount(
    client: TestClient, db: psycopg.Connection[Any], world: World, api_users: ApiUsers
) -> None:
    email = api_users.emails["admin"]
    token = signed_in_console(client, email)
    response = post_decision(
        client, world.procurement, token, htmx=True, decision="approve_with_edits", amount="60000"
    )
    assert response.status_code == 200, response.text
    assert "amount 60,000.00 EUR (requested 75,000.00 EUR)" in response.text
    row = stored(db, world.procurement)
    assert (row["status"], row["edits"], row["decided_by"]) == (
        "approved",
        {"amount": "60000"},
        f"user:{email}",
    )
    assert audit_actions(db, world.procurement)[-1] == (f"user:{email}", "approval.approved")


def test_approve_as_proposed_carries_no_edits(
    client: TestClient, db: psycopg.Connection[Any], world: World, api_users: ApiUsers
) -> None:
    """The edit fields are only read for "Approve with edits"."""
    token = signed_in_console(client, api_users.emails["admin"])
    response = post_decision(client, world.procurement, token, decision="approve", amount="1")
    assert response.status_code == 200, response.text
    assert (stored(db, world.procurement)["edits"]) == {}


def test_an_operator_cannot_decide_a_procurement(
    client: TestClient, db: psycopg.Connection[Any], world: World, api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    page = client.get(f"/console/approvals/{world.procurement}").text
    assert 'data-testid="decision-form"' not in page
    assert 'data-testid="approve"' not in page
    assert "needs the admin role; you are operator" in page
    before, audited = stored(db, world.procurement), audit_count(db)
    for htmx in (False, True):
        forged = post_decision(client, world.procurement, token, htmx=htmx, decision="approve")
        assert forged.status_code == 403, forged.text
        assert error_code(forged) == "forbidden"
        assert "needs the admin role" in forged.text
    assert forged.headers["hx-retarget"] == "#flash"
    assert stored(db, world.procurement) == before
    assert before["status"] == "pending"
    assert audit_count(db) == audited


def test_a_viewer_sees_no_form_and_a_forged_post_is_refused(
    client: TestClient, db: psycopg.Connection[Any], world: World, api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["viewer"])
    page = client.get(f"/console/approvals/{world.kickoff}").text
    assert 'data-testid="decision-form"' not in page and 'data-testid="approve"' not in page
    assert "needs the operator or admin role; you are viewer" in page
    queue = client.get("/console/approvals").text
    assert "Review and decide" not in queue
    before, audited = stored(db, world.kickoff), audit_count(db)
    forged = post_decision(client, world.kickoff, token, decision="approve")
    assert forged.status_code == 403, forged.text
    assert "needs the role operator or admin" in forged.text
    assert stored(db, world.kickoff) == before and before["status"] == "pending"
    assert audit_count(db) == audited


def test_whoever_raised_it_cannot_decide_it(
    client: TestClient, db: psycopg.Connection[Any], world: World
) -> None:
    """Sam's product account is the raiser's HubSpot email (in another case): four eyes."""
    add_user(db, SAM, "operator")
    token = signed_in_console(client, SAM)
    page = client.get(f"/console/approvals/{world.kickoff}").text
    assert 'data-testid="four-eyes-note"' in page
    assert "someone else must decide it" in page
    assert 'data-testid="decision-form"' not in page
    assert 'data-testid="badge-raised-by-you"' in client.get("/console/approvals").text
    audited = audit_count(db)
    for decision in ("approve", "reject"):
        refused = post_decision(client, world.kickoff, token, htmx=True, decision=decision)
        assert refused.status_code == 403, refused.text
        assert error_code(refused) == "four_eyes"
        assert f"user:{SAM} raised approval {world.kickoff} and cannot decide it" in refused.text
    assert stored(db, world.kickoff)["status"] == "pending"
    assert audit_count(db) == audited


def test_every_raiser_is_shown_and_a_later_one_cannot_decide_either(
    client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy
) -> None:
    """Sam raised it with Priya and with HubSpot user 99999, whom HubSpot does not name: all
    three are listed, 99999 marked; the approval is an admin's, and Priya (an admin) may not."""
    event = hubspot_event("deal.propertyChange", objectId=5004, propertyName="dealstage")
    post_delivery(client, [event], WEBHOOK_SECRET)
    dispatch_received(db, policy, limit=100)
    request = dataclasses.replace(
        kickoff(
            policy_snapshot(policy, sections=["deal_kickoff", "approvals"]),
            datetime.now(UTC) + timedelta(days=1),
        ),
        raisers=[
            {"source": RAISER, "email": RAISER_EMAIL},
            {"source": "hubspot:userId:71000103", "email": "priya.raman@harborlabs.example"},
            {"source": "hubspot:userId:99999", "email": None},
        ],
    )
    approval = park_with_approval(db, workflow_run_id(db, "deal_kickoff", 5004), "dg-k4", request)
    priya = "priya.raman@harborlabs.example"
    add_user(db, priya, "admin")
    token = signed_in_console(client, priya)

    page = client.get(f"/console/approvals/{approval.id}").text
    raised = re.search(r'data-testid="raised-by">(.*?)</dd>', page, re.S)
    assert raised is not None
    shown = raised.group(1)
    assert RAISER_EMAIL in shown and priya in shown and "hubspot:userId:99999" in shown
    assert shown.count('data-testid="raiser-unresolved"') == 1
    assert "an admin decides" in page  # the reason says why it is an admin's
    assert 'data-testid="four-eyes-note"' in page
    refused = post_decision(client, approval.id, token, htmx=True, decision="approve")
    assert refused.status_code == 403 and error_code(refused) == "four_eyes"
    assert stored(db, approval.id)["status"] == "pending"


@pytest.mark.parametrize(
    ("role", "approval", "fields", "status", "field"),
    [
        ("operator", "kickoff", {"slot_index": "3"}, 422, "edits.slot_index"),
        ("operator", "kickoff", {"slot_index": "-1"}, 422, "edits.slot_index"),
        ("operator", "kickoff", {"slot_index": "first"}, 422, "edits.slot_index"),
        ("operator", "kickoff", {"slot_index": "9" * 40}, 422, "edits.slot_index"),
        ("operator", "kickoff", {"amount": "10"}, 422, "edits.amount"),
        ("operator", "kickoff", {}, 422, "edits"),
        ("admin", "procurement", {"amount": "75000.01"}, 422, "edits.amount"),
        ("admin", "procurement", {"amount": "0"}, 422, "edits.amount"),
        ("admin", "procurement", {"amount": "lots"}, 422, "edits.amount"),
        ("admin", "procurement", {"amount": "1\x00"}, 422, "edits.amount"),
    ],
)
def test_edits_outside_the_policy_are_refused_naming_the_field(
    client: TestClient,
    db: psycopg.Connection[Any],
    world: World,
    api_users: ApiUsers,
    role: str,
    approval: str,
    fields: dict[str, str],
    status: int,
    field: str,
) -> None:
    token = signed_in_console(client, api_users.emails[role])
    approval_id = getattr(world, approval)
    audited = audit_count(db)
    response = post_decision(
        client, approval_id, token, htmx=True, decision="approve_with_edits", **fields
    )
    assert response.status_code == status, response.text
    assert field in response.text
    assert stored(db, approval_id)["status"] == "pending"
    assert audit_count(db) == audited


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "decision"),
        ({"decision": "maybe"}, "decision"),
        ({"decision": "APPROVE"}, "decision"),
        ({"decision": "approve", "note": "n" * 2001}, "note"),
        ({"decision": "approve", "note": "a\x00b"}, "note"),
    ],
)
def test_a_bad_form_is_422_naming_the_field(
    client: TestClient,
    db: psycopg.Connection[Any],
    world: World,
    api_users: ApiUsers,
    fields: dict[str, str],
    field: str,
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    response = post_decision(client, world.kickoff, token, **fields)
    assert response.status_code == 422, response.text
    assert f"<code>{field}</code>" in response.text
    assert stored(db, world.kickoff)["status"] == "pending"


def test_deciding_again_otherwise_is_a_conflict(
    client: TestClient, db: psycopg.Connection[Any], world: World, api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    assert post_decision(client, world.kickoff, token, decision="approve").status_code == 200
    token = signed_in_console(client, api_users.emails["admin"])
    conflict = post_decision(client, world.kickoff, token, htmx=True, decision="reject")
    assert conflict.status_code == 409, conflict.text
    assert error_code(conflict) == "already_decided"
    assert stored(db, world.kickoff)["status"] == "approved"
    # Decided: the page shows the decision, not the form.
    page = client.get(f"/console/approvals/{world.kickoff}").text
    assert 'data-testid="decision-form"' not in page
    assert f"user:{api_users.emails['operator']}" in page


@pytest.mark.parametrize("token", [None, "not-the-token"], ids=["missing", "wrong"])
def test_a_decision_without_its_csrf_token_is_refused(
    client: TestClient,
    db: psycopg.Connection[Any],
    world: World,
    api_users: ApiUsers,
    token: str | None,
) -> None:
    signed_in_console(client, api_users.emails["operator"])
    before, audited = stored(db, world.kickoff), audit_count(db)
    response = post_decision(client, world.kickoff, token, decision="approve")
    assert response.status_code == 403, response.text
    assert error_code(response) == "csrf_refused"
    assert stored(db, world.kickoff) == before and before["status"] == "pending"
    assert audit_count(db) == audited


def test_unknown_and_impossible_ids(
    client: TestClient, world: World, api_users: ApiUsers, db: psycopg.Connection[Any]
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    missing = client.get("/console/approvals/999")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "no approval with id 999" in missing.text
    refused = post_decision(client, 999, token, decision="approve")
    assert refused.status_code == 404 and "no approval with id 999" in refused.text
    for bad in ("99999999999999999999", "0", "abc", "-1"):
        page = client.get(f"/console/approvals/{bad}")
        assert 400 <= page.status_code < 500, (bad, page.status_code)
        assert "path.approval_id" in page.text
        post = post_decision(client, bad, token, decision="approve")
        assert 400 <= post.status_code < 500, (bad, post.status_code)
    progress = client.get(f"/console/approvals/{world.kickoff}?part=everything")
    assert progress.status_code == 422 and "query.part" in progress.text
    assert stored(db, world.kickoff)["status"] == "pending"


# -- after the decision -----------------------------------------------------------------------


def test_the_resumed_run_is_followed_until_it_finishes(
    client: TestClient, db: psycopg.Connection[Any], world: World, api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    decided = post_decision(
        client, world.kickoff, token, decision="approve_with_edits", slot_index="1", note="ok"
    )
    assert decided.status_code == 200, decided.text

    def progress() -> str:
        response = client.get(f"/console/approvals/{world.kickoff}?part=progress", headers=HTMX)
        assert response.status_code == 200, response.text
        assert response.text.lstrip().startswith('<section id="approval-progress"')
        return response.text

    waiting = progress()
    assert "Waiting for the approval sensor" in waiting
    assert 'hx-trigger="every 3s"' in waiting and "awaiting_approval" in waiting

    # The approval sensor asks for the continuation; the run takes it when it starts.
    (due,) = continuations_due(db, limit=10, again_after_seconds=300)
    assert due.id == world.kickoff
    mark_continuation(db, world.kickoff, "dg-k1-continue")
    launched = progress()
    assert dagster_link("dg-k1-continue") in launched
    assert "launched, not started yet" in launched and 'hx-trigger="every 3s"' in launched

    runs.begin_attempt(
        db,
        workflow_run_id=world.kickoff_run,
        dagster_run_id="dg-k1-continue",
        job_name="deal_kickoff_continuation",
        kind="continuation",
    )
    running = progress()
    assert 'data-testid="continuation-status">running<' in running
    assert 'data-testid="run-status">running<' in running
    assert 'hx-trigger="every 3s"' in running

    runs.finish(
        db,
        workflow_run_id=world.kickoff_run,
        dagster_run_id="dg-k1-continue",
        outcome="scheduled",
        message="Kickoff: Acme GmbH scheduled",
        state_summary={"event": "ev-1"},
    )
    finished = progress()
    assert 'data-testid="run-status">succeeded<' in finished
    assert "scheduled: Kickoff: Acme GmbH scheduled" in finished
    assert "hx-trigger" not in finished and 'data-polling="off"' in finished

    # The whole page: the decision (who, when, note, edits) and the finished run.
    page = client.get(f"/console/approvals/{world.kickoff}").text
    assert f"user:{api_users.emails['operator']}" in page
    assert 'data-testid="decision-note">ok<' in page
    assert f"slot 1: {SLOTS[1]['label']}" in page
    assert "hx-trigger" not in page


def test_text_from_the_proposal_is_escaped(
    client: TestClient, db: psycopg.Connection[Any], world: World, api_users: ApiUsers
) -> None:
    db.execute(
        "UPDATE orchestrator.approvals SET reason = %s WHERE id = %s",
        ("<script>alert(1)</script>", world.kickoff),
    )
    signed_in_console(client, api_users.emails["operator"])
    for path in ("/console/approvals", f"/console/approvals/{world.kickoff}"):
        html = client.get(path).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
