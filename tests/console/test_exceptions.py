"""The console's exceptions: the open list (severity and age order, filters, pages, the HTMX
part), an exception's page with its history, and the fix buttons, which act as the API does
(`act`: same rules, same audit rows), their result swapped into the card in place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.records import runs
from orchestrator_core.records.dispatch import dispatch_received
from orchestrator_core.records.exceptions import NewException, open_exception
from tests.conftest import WEBHOOK_SECRET
from tests.console.support import signed_in_console
from tests.support import ApiUsers, hubspot_event, post_delivery

HTMX = {"HX-Request": "true"}
BIG = 2**63  # one past Postgres's bigint


@dataclass
class World:
    company_run: int
    contact_run: int
    deal_run: int
    connector: int  # error, company run failed: retry, replay, dismiss
    role: int  # warning, role_review on a finished contact run: replay, suggestion, value
    domain: int  # warning, data_quality on the company run
    budget: int  # critical, no run: dismiss only
    procurement: int  # info, on a procurement run: an admin's to fix


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
    """Exceptions opened as the workflows open them, on runs that ended."""
    post_delivery(
        client,
        [
            hubspot_event("company.creation", objectId=9001),
            hubspot_event("contact.creation", objectId=7003),
            hubspot_event("deal.creation", objectId=5001),
        ],
        WEBHOOK_SECRET,
    )
    dispatch_received(db, policy, limit=100)
    run_ids = dict(db.execute("SELECT workflow, id FROM orchestrator.workflow_runs").fetchall())
    company = _attempt(db, run_ids["company_intake"], "dg-company")
    contact = _attempt(db, run_ids["contact_role_mapping"], "dg-contact")
    deal = _attempt(db, run_ids["procurement_approval"], "dg-deal")
    connector = open_exception(
        db,
        NewException(
            kind="connector_permanent",
            severity="error",
            message="hubspot update failed: HTTP 400",
            suggested_fix="correct the record in HubSpot, then retry",
            step="write_hubspot",
        ),
        run=company,
        dagster_run_id="dg-company",
    )
    domain = open_exception(
        db,
        NewException(kind="data_quality", severity="warning", message="no domain", key="domain"),
        run=company,
    )
    runs.fail(db, workflow_run_id=company.id, dagster_run_id="dg-company", error="HTTP 400")
    role = open_exception(
        db,
        NewException(
            kind="role_review",
            severity="warning",
            message="job title 'Ninja' maps to no role",
            details={"title": "Ninja", "suggested_role": "stakeholder"},
        ),
        run=contact,
        dagster_run_id="dg-contact",
    )
    runs.finish(
        db,
        workflow_run_id=contact.id,
        dagster_run_id="dg-contact",
        outcome="needs_review",
        message="a person maps the role",
        state_summary={},
    )
    procurement = open_exception(
        db,
        NewException(kind="budget_currency_mismatch", severity="info", message="USD deal"),
        run=deal,
    )
    runs.finish(
        db,
        workflow_run_id=deal.id,
        dagster_run_id="dg-deal",
        outcome="ended",
        message="done",
        state_summary={},
    )
    budget = open_exception(
        db,
        NewException(kind="budget_overrun", severity="critical", message="cost centre over"),
        run=None,
    )
    return World(
        company_run=company.id,
        contact_run=contact.id,
        deal_run=deal.id,
        connector=connector["id"],
        role=role["id"],
        domain=domain["id"],
        budget=budget["id"],
        procurement=procurement["id"],
    )


def _attempt(db: psycopg.Connection[Any], run_id: int, dagster_run_id: str) -> runs.WorkflowRun:
    return runs.begin_attempt(
        db,
        workflow_run_id=run_id,
        dagster_run_id=dagster_run_id,
        job_name="job",
        kind="start",
    )


@pytest.fixture
def operator(client: TestClient, api_users: ApiUsers) -> str:
    """The client is signed in as the operator; their CSRF token."""
    return signed_in_console(client, api_users.emails["operator"])


def shown_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="exception" data-exception-id="(\d+)"', html)]


def card(html: str, exception_id: int) -> str:
    """The card of one exception in a page."""
    match = re.search(
        rf'<article [^>]*id="exception-{exception_id}".*?</article>', html, flags=re.S
    )
    assert match, f"no card for exception {exception_id}"
    return match.group(0)


def buttons(html: str) -> list[str]:
    return re.findall(r'data-testid="action-([a-z_]+)"', html)


def stored(db: psycopg.Connection[Any], exception_id: int) -> dict[str, Any]:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT status, resolved_by, resolution_note FROM orchestrator.exceptions"
            " WHERE id = %s",
            (exception_id,),
        ).fetchone()
    assert row is not None
    return row


def actions_of(db: psycopg.Connection[Any], exception_id: int) -> list[tuple[str, str, Any]]:
    return [
        (action, status, params)
        for action, status, params in db.execute(
            "SELECT action, status, params FROM orchestrator.exception_actions"
            " WHERE exception_id = %s ORDER BY id",
            (exception_id,),
        )
    ]


def audit_of(db: psycopg.Connection[Any], exception_id: int) -> list[tuple[str, str]]:
    return [
        (action, actor)
        for action, actor in db.execute(
            "SELECT action, actor FROM orchestrator.audit_log"
            " WHERE entity_type = 'exception' AND entity_id = %s ORDER BY seq",
            (str(exception_id),),
        )
    ]


def act(
    client: TestClient,
    exception_id: int,
    action: str,
    token: str | None,
    *,
    htmx: bool = True,
    view: str | None = "list",
    **fields: str,
) -> Any:
    data = dict(fields)
    if token is not None:
        data["csrf_token"] = token
    url = f"/console/exceptions/{exception_id}/actions/{action}"
    if view:
        url += f"?view={view}"
    return client.post(url, data=data, headers=HTMX if htmx else None)


# --- the list ---------------------------------------------------------------------------------


def test_the_open_list_is_by_severity_then_age_with_what_happened_the_object_and_the_run(
    client: TestClient, world: World, operator: str
) -> None:
    page = client.get("/console/exceptions")

    assert page.status_code == 200, page.text
    html = page.text
    assert shown_ids(html) == [
        world.budget,  # critical
        world.connector,  # error
        world.domain,  # warning, opened before the role review
        world.role,
        world.procurement,  # info
    ]
    connector = card(html, world.connector)
    assert "hubspot update failed: HTTP 400" in connector
    assert "HubSpot company 9001" in connector
    assert f'href="/console/runs/{world.company_run}"' in connector
    assert 'href="https://dagster.ops.example/runs/dg-company"' in connector
    assert "correct the record in HubSpot, then retry" in connector
    assert buttons(connector) == ["retry", "replay", "dismiss"]
    role = card(html, world.role)
    assert buttons(role) == ["replay", "accept_suggestion", "apply_value", "dismiss"]
    assert "the suggested &#39;stakeholder&#39;" in role  # the value it would set
    # a role is chosen from the policy's roles
    assert '<select name="value" required' in role
    assert '<option value="technical_lead">' in role
    assert buttons(card(html, world.budget)) == ["dismiss"]
    # the counts by severity link to their filter
    assert re.search(
        r'href="/console/exceptions\?severity=warning"[^>]*>\s*<span class="value">2<', html
    )
    assert 'href="/console/exceptions/' in html  # each card links to its page


def test_the_empty_state_says_nothing_is_open(client: TestClient, operator: str) -> None:
    page = client.get("/console/exceptions")
    assert page.status_code == 200
    assert 'data-testid="empty"' in page.text
    assert "no exception is open" in page.text
    assert shown_ids(page.text) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("severity=warning", ["domain", "role"]),
        ("kind=role_review", ["role"]),
        ("workflow=company_intake", ["connector", "domain"]),
        ("severity=error&workflow=company_intake", ["connector"]),
        ("severity=&kind=&workflow=", ["budget", "connector", "domain", "role", "procurement"]),
        ("kind=nothing_like_it", []),
    ],
)
def test_filters_are_in_the_url(
    client: TestClient, world: World, operator: str, query: str, expected: list[str]
) -> None:
    page = client.get(f"/console/exceptions?{query}")
    assert page.status_code == 200, page.text
    assert shown_ids(page.text) == [getattr(world, name) for name in expected]
    if not expected:
        assert "No open exception matches these filters" in page.text


def test_pages_follow_the_same_order(client: TestClient, world: World, operator: str) -> None:
    first = client.get("/console/exceptions?limit=2&severity=")
    assert shown_ids(first.text) == [world.budget, world.connector]
    link = re.search(r'href="([^"]+)" data-testid="next-page"', first.text)
    assert link, "no next page"
    second = client.get(link.group(1).replace("&amp;", "&"))
    assert shown_ids(second.text) == [world.domain, world.role]
    link = re.search(r'href="([^"]+)" data-testid="next-page"', second.text)
    assert link
    third = client.get(link.group(1).replace("&amp;", "&"))
    assert shown_ids(third.text) == [world.procurement]
    assert 'data-testid="next-page"' not in third.text
    assert 'data-testid="first-page"' in third.text


def test_an_htmx_request_gets_the_list_only(
    client: TestClient, world: World, operator: str
) -> None:
    part = client.get("/console/exceptions?severity=critical", headers=HTMX)
    assert part.status_code == 200
    assert part.text.lstrip().startswith('<section id="exceptions-list"')
    assert "<html" not in part.text and "<nav" not in part.text.split("pager")[0]
    assert shown_ids(part.text) == [world.budget]


def test_the_exception_page_shows_its_details_and_action_history(
    client: TestClient, world: World, operator: str
) -> None:
    assert act(client, world.role, "apply_value", operator, value="ninja").status_code == 422
    assert act(client, world.role, "replay", operator).status_code == 202

    page = client.get(f"/console/exceptions/{world.role}")

    assert page.status_code == 200, page.text
    assert "job title &#39;Ninja&#39; maps to no role" in page.text
    history = re.findall(
        r'data-testid="history-row" data-action="([a-z_]+)" data-status="([a-z]+)"', page.text
    )
    assert history == [("replay", "pending")]  # a refused action leaves no row
    assert "&#34;suggested_role&#34;: &#34;stakeholder&#34;" in page.text  # what it recorded
    assert f'href="/console/runs/{world.contact_run}"' in page.text
    assert buttons(page.text) == []  # nothing else while the replay runs
    # the card polls until the action settles
    assert re.search(rf'hx-get="/console/exceptions/{world.role}" hx-trigger="every 3s"', page.text)


# --- acting -------------------------------------------------------------------------------------


def test_dismiss_with_a_reason_resolves_it_in_place_and_it_leaves_the_open_list(
    client: TestClient,
    world: World,
    db: psycopg.Connection[Any],
    api_users: ApiUsers,
    operator: str,
) -> None:
    me = f"user:{api_users.emails['operator']}"

    answer = act(client, world.connector, "dismiss", operator, reason="fixed in HubSpot by hand")

    assert answer.status_code == 200, answer.text
    swapped = answer.text.strip()
    assert swapped.startswith(f'<article class="card exception" id="exception-{world.connector}"')
    assert "<html" not in swapped
    assert 'data-testid="fix-result" data-action="dismiss" data-status="succeeded"' in swapped
    assert 'data-testid="resolved-note"' in swapped and "left the open list" in swapped
    assert buttons(swapped) == []
    assert "hx-trigger" not in swapped
    assert stored(db, world.connector) == {
        "status": "resolved",
        "resolved_by": me,
        "resolution_note": "dismissed: fixed in HubSpot by hand",
    }
    assert actions_of(db, world.connector) == [
        ("dismiss", "succeeded", {"reason": "fixed in HubSpot by hand"})
    ]
    assert audit_of(db, world.connector)[-2:] == [
        ("exception.action_requested", me),
        ("exception.resolved", me),
    ]
    assert world.connector not in shown_ids(client.get("/console/exceptions").text)


def test_a_plain_form_post_without_javascript_answers_the_whole_page(
    client: TestClient, world: World, db: psycopg.Connection[Any], operator: str
) -> None:
    answer = act(client, world.budget, "dismiss", operator, htmx=False, view=None, reason="ok")
    assert answer.status_code == 200
    assert "<html" in answer.text and 'data-testid="history-row"' in answer.text
    assert stored(db, world.budget)["status"] == "resolved"


def test_a_pending_fix_polls_until_its_run_ends(
    client: TestClient, world: World, db: psycopg.Connection[Any], operator: str
) -> None:
    answer = act(client, world.connector, "retry", operator)

    assert answer.status_code == 202, answer.text
    assert 'data-action="retry" data-status="pending"' in answer.text
    assert re.search(
        rf'hx-get="/console/exceptions/{world.connector}\?view=list" hx-trigger="every 3s"',
        answer.text,
    )
    assert buttons(answer.text) == []
    poll = client.get(f"/console/exceptions/{world.connector}?view=list", headers=HTMX)
    assert "every 3s" in poll.text and "<html" not in poll.text

    # the retried run ends well: the action settles and the exception is resolved
    _attempt(db, world.company_run, "dg-company-2")
    runs.finish(
        db,
        workflow_run_id=world.company_run,
        dagster_run_id="dg-company-2",
        outcome="mirrored",
        message="ok",
        state_summary={},
    )
    settled = client.get(f"/console/exceptions/{world.connector}?view=list", headers=HTMX)

    assert 'data-action="retry" data-status="succeeded"' in settled.text
    assert "hx-trigger" not in settled.text
    assert "left the open list" in settled.text
    assert stored(db, world.connector)["status"] == "resolved"
    assert world.connector not in shown_ids(client.get("/console/exceptions").text)


def test_a_failed_fix_shows_why_and_the_exception_stays_open(
    client: TestClient, world: World, db: psycopg.Connection[Any], operator: str
) -> None:
    assert act(client, world.connector, "retry", operator).status_code == 202
    _attempt(db, world.company_run, "dg-company-2")
    runs.fail(db, workflow_run_id=world.company_run, dagster_run_id="dg-company-2", error="boom")

    settled = client.get(f"/console/exceptions/{world.connector}?view=list", headers=HTMX)

    assert 'data-action="retry" data-status="failed"' in settled.text
    assert "boom" in settled.text
    assert buttons(settled.text) == ["retry", "replay", "dismiss"]  # another fix may follow
    assert stored(db, world.connector)["status"] == "open"


def test_apply_value_and_accept_suggestion_start_a_fixing_run(
    client: TestClient, world: World, db: psycopg.Connection[Any], operator: str
) -> None:
    applied = act(client, world.role, "apply_value", operator, value="technical_lead")

    assert applied.status_code == 202, applied.text
    assert 'data-action="apply_value" data-status="pending"' in applied.text
    assert actions_of(db, world.role) == [("apply_value", "pending", {"value": "technical_lead"})]
    # a second fix while it runs is refused, as the API refuses it
    again = act(client, world.role, "accept_suggestion", operator)
    assert again.status_code == 409
    assert again.headers["HX-Retarget"] == "#flash"
    assert "is in progress" in again.text


def test_accept_suggestion_is_offered_with_the_suggested_value(
    client: TestClient, world: World, db: psycopg.Connection[Any], operator: str
) -> None:
    answer = act(client, world.role, "accept_suggestion", operator)
    assert answer.status_code == 202, answer.text
    assert actions_of(db, world.role) == [("accept_suggestion", "pending", {})]


def test_apply_value_with_a_bad_value_is_422_naming_the_rule_and_changes_nothing(
    client: TestClient, world: World, db: psycopg.Connection[Any], operator: str
) -> None:
    audited = audit_of(db, world.role)

    answer = act(client, world.role, "apply_value", operator, value="ninja")

    assert answer.status_code == 422
    assert answer.headers["HX-Retarget"] == "#flash"
    assert 'data-code="invalid_value"' in answer.text
    assert "&#39;ninja&#39; is not a role of policy" in answer.text
    plain = act(client, world.role, "apply_value", operator, htmx=False, value="")
    assert plain.status_code == 422
    assert "<html" in plain.text and "`value` is required" in plain.text
    assert actions_of(db, world.role) == []
    assert audit_of(db, world.role) == audited
    assert stored(db, world.role)["status"] == "open"


def test_an_action_the_exception_does_not_offer_is_422(
    client: TestClient, world: World, db: psycopg.Connection[Any], operator: str
) -> None:
    answer = act(client, world.role, "retry", operator)  # its run did not fail
    assert answer.status_code == 422
    assert 'data-code="action_not_offered"' in answer.text
    assert "does not offer retry" in answer.text
    assert act(client, world.budget, "replay", operator).status_code == 422
    assert act(client, world.connector, "dismiss", operator).status_code == 422  # no reason
    assert actions_of(db, world.role) == actions_of(db, world.budget) == []


def test_a_resolved_exception_refuses_another_action(
    client: TestClient, world: World, operator: str
) -> None:
    assert act(client, world.budget, "dismiss", operator, reason="ok").status_code == 200
    # the same request again answers the same action; another one conflicts
    assert act(client, world.budget, "dismiss", operator, reason="ok").status_code == 200
    answer = act(client, world.budget, "dismiss", operator, reason="other")
    assert answer.status_code == 409
    assert 'data-code="already_resolved"' in answer.text


# --- who may act --------------------------------------------------------------------------------


def test_a_viewer_sees_no_fix_and_a_forged_post_is_refused(
    client: TestClient, world: World, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["viewer"])
    page = client.get("/console/exceptions")
    assert page.status_code == 200
    assert shown_ids(page.text) != []
    assert buttons(page.text) == [] and '<form class="fix"' not in page.text
    assert "needs the operator role; you are viewer" in card(page.text, world.connector)
    assert buttons(client.get(f"/console/exceptions/{world.connector}").text) == []
    audited = audit_of(db, world.connector)

    forged = act(client, world.connector, "dismiss", token, reason="gone")

    assert forged.status_code == 403
    assert "needs the role" in forged.text
    assert stored(db, world.connector)["status"] == "open"
    assert actions_of(db, world.connector) == []
    assert audit_of(db, world.connector) == audited


def test_a_procurement_exception_is_an_admins_to_fix(
    client: TestClient, world: World, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    procurement = card(client.get("/console/exceptions").text, world.procurement)
    assert buttons(procurement) == []
    assert "needs the admin role; you are operator" in procurement
    refused = act(client, world.procurement, "dismiss", token, reason="fine")
    assert refused.status_code == 403
    assert 'data-code="forbidden"' in refused.text
    assert stored(db, world.procurement)["status"] == "open"

    admin = signed_in_console(client, api_users.emails["admin"])
    assert buttons(card(client.get("/console/exceptions").text, world.procurement)) == [
        "replay",
        "dismiss",
    ]
    assert act(client, world.procurement, "dismiss", admin, reason="fine").status_code == 200
    assert stored(db, world.procurement)["status"] == "resolved"


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_post_without_its_csrf_token_is_refused(
    client: TestClient,
    world: World,
    db: psycopg.Connection[Any],
    operator: str,
    token: str | None,
) -> None:
    audited = audit_of(db, world.connector)
    answer = act(client, world.connector, "dismiss", token, htmx=False, reason="gone")
    assert answer.status_code == 403
    assert "security token" in answer.text
    assert stored(db, world.connector)["status"] == "open"
    assert actions_of(db, world.connector) == []
    assert audit_of(db, world.connector) == audited


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status", "named"),
    [
        ("/console/exceptions/abc", 422, "path.exception_id"),
        (f"/console/exceptions/{BIG}", 422, "path.exception_id"),
        ("/console/exceptions/0", 422, "path.exception_id"),
        ("/console/exceptions/999999", 404, "no exception with id 999999"),
        ("/console/exceptions/1?view=sideways", 422, "query.view"),
        ("/console/exceptions?severity=urgent", 422, "query.severity"),
        ("/console/exceptions?workflow=payroll", 422, "query.workflow"),
        ("/console/exceptions?kind=Robert%27)%3B", 422, "query.kind"),
        ("/console/exceptions?kind=" + "k" * 65, 422, "query.kind"),
        ("/console/exceptions?limit=0", 422, "query.limit"),
        ("/console/exceptions?limit=101", 422, "query.limit"),
        (f"/console/exceptions?after_id={BIG}", 422, "query.after_id"),
        ("/console/exceptions?kind=a%00", 422, "NUL"),
    ],
)
def test_bad_urls_are_4xx_naming_the_problem(
    client: TestClient, world: World, operator: str, url: str, status: int, named: str
) -> None:
    answer = client.get(url)
    assert answer.status_code == status, answer.text
    assert named in answer.text


@pytest.mark.parametrize(
    ("exception_id", "action", "fields", "status", "named"),
    [
        ("abc", "dismiss", {"reason": "x"}, 422, "path.exception_id"),
        (str(BIG), "dismiss", {"reason": "x"}, 422, "path.exception_id"),
        ("999999", "dismiss", {"reason": "x"}, 404, "no exception with id 999999"),
        ("{connector}", "delete", {}, 422, "path.action"),
        ("{connector}", "dismiss", {"reason": "a\x00b"}, 422, "NUL"),
        ("{connector}", "dismiss", {"reason": "r" * 2001}, 422, "at most 2000 characters"),
        ("{connector}", "dismiss", {"reason": "x", "value": "y"}, 422, "takes no parameter value"),
    ],
)
def test_bad_actions_are_4xx_and_change_nothing(
    client: TestClient,
    world: World,
    db: psycopg.Connection[Any],
    operator: str,
    exception_id: str,
    action: str,
    fields: dict[str, str],
    status: int,
    named: str,
) -> None:
    target = exception_id.format(connector=world.connector)
    answer = client.post(
        f"/console/exceptions/{target}/actions/{action}",
        data={"csrf_token": operator, **fields},
    )
    assert answer.status_code == status, answer.text
    assert named in answer.text
    assert actions_of(db, world.connector) == []
