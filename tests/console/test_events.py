"""The console's events and replays: search the stored events, see one with its payload and
runs, select events and see the dry-run plan of their replay (nothing changes), confirm it
(the replay, its runs and its audit rows are stored, as POST /api/replays stores them), and
follow the replay's runs. Roles, CSRF and bad input are refused with nothing changed."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from orchestrator_core.policy import LoadedPolicy
from tests.console.support import signed_in_console
from tests.console.test_runs import MIRROR_ID, ORDER_ID, World, seed_world
from tests.support import ApiUsers

BIG = 2**63
_ROW = re.compile(r'data-testid="event-row" data-envelope-id="(\d+)"')
_CONFIRM = re.compile(r'<form method="post" action="/console/replays" .*?</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any], policy: LoadedPolicy) -> World:
    return seed_world(client, db, policy)


def sign_in(client: TestClient, api_users: ApiUsers, role: str) -> str:
    """Sign `role` in; the session's CSRF token."""
    return signed_in_console(client, api_users.emails[role])


def listed(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(i) for i in _ROW.findall(response.text)]


def snapshot(db: psycopg.Connection[Any]) -> dict[str, Any]:
    """What a replay changes: its row, its runs, the audit log, the events' statuses."""
    counts = {
        table: db.execute(f"SELECT count(*) FROM orchestrator.{table}").fetchone()[0]  # type: ignore[index]
        for table in ("replays", "workflow_runs", "audit_log")
    }
    statuses = db.execute("SELECT id, status FROM orchestrator.event_envelopes ORDER BY id")
    return {**counts, "statuses": statuses.fetchall()}


def confirm_fields(page: str) -> dict[str, list[str]]:
    """The hidden fields of the plan's Confirm form, as a browser would post them."""
    form = _CONFIRM.search(page)
    assert form, "the plan has no Confirm form"
    fields: dict[str, list[str]] = {}
    for name, value in _HIDDEN.findall(form.group(0)):
        fields.setdefault(name, []).append(value)
    return fields


def selection(world: World, *names: str) -> list[str]:
    return [str(world.envelopes[name]) for name in names]


# --- the events list and one event --------------------------------------------------------


def test_the_list_shows_every_event_newest_first(
    client: TestClient, api_users: ApiUsers, world: World
) -> None:
    sign_in(client, api_users, "viewer")
    page = client.get("/console/events")

    assert listed(page) == sorted(world.envelopes.values(), reverse=True)
    assert f'href="/console/events/{world.envelopes["ticket"]}"' in page.text
    assert "ticket.creation.v2" in page.text and "unrouted" in page.text
    assert 'aria-current="page">Events' in page.text


def test_an_empty_store_says_how_events_arrive(
    client: TestClient, api_users: ApiUsers, db: Any
) -> None:
    sign_in(client, api_users, "operator")
    page = client.get("/console/events")

    assert listed(page) == []
    assert "No event stored yet" in page.text and "/webhooks/hubspot" in page.text
    assert 'data-testid="replay-plan-selected"' not in page.text


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "unrouted"}, ["ticket"]),
        ({"status": "failed"}, ["currency", "amount"]),
        ({"subscription_type": "company.creation"}, ["company"]),
        ({"object_type": "deal"}, ["currency", "amount", "dealstage"]),
        ({"object_type": "contact", "object_id": "7002"}, ["jobtitle"]),
        (
            {"occurred_from": "2026-11-24T09:00", "subscription_type": "ticket.creation.v2"},
            ["ticket"],
        ),
        ({"occurred_from": "2026-11-24T09:01"}, []),
        ({"occurred_to": "2026-11-24T09:00"}, []),
        ({"status": "", "subscription_type": "", "object_id": "", "occurred_to": ""}, None),
    ],
)
def test_filters(
    client: TestClient,
    api_users: ApiUsers,
    world: World,
    params: dict[str, str],
    expected: list[str] | None,
) -> None:
    sign_in(client, api_users, "viewer")
    page = client.get("/console/events", params=params)

    everything = sorted(world.envelopes.values(), reverse=True)
    assert listed(page) == (
        [world.envelopes[n] for n in expected] if expected is not None else everything
    )
    if expected == []:
        assert "No event matches these filters" in page.text


def test_pages_follow_the_cursor(client: TestClient, api_users: ApiUsers, world: World) -> None:
    sign_in(client, api_users, "viewer")
    page = client.get("/console/events?limit=3")
    seen = listed(page)
    pages = 1
    while (older := re.search(r'<a href="([^"]+)" data-testid="older"', page.text)) is not None:
        assert "limit=3" in older.group(1)
        page = client.get(older.group(1).replace("&amp;", "&"))
        seen += listed(page)
        pages += 1
    assert pages == 3
    assert seen == sorted(world.envelopes.values(), reverse=True)

    # the cursor keeps the filters
    first = client.get("/console/events?limit=2&object_type=deal")
    assert listed(first) == [world.envelopes["currency"], world.envelopes["amount"]]
    older = re.search(r'<a href="([^"]+)" data-testid="older"', first.text)
    assert older is not None and "object_type=deal" in older.group(1)
    rest = client.get(older.group(1).replace("&amp;", "&"))
    assert listed(rest) == [world.envelopes["dealstage"]]
    assert 'data-testid="older"' not in rest.text and 'data-testid="newest"' in rest.text


def test_htmx_asks_for_the_results_only(
    client: TestClient, api_users: ApiUsers, world: World
) -> None:
    sign_in(client, api_users, "viewer")
    part = client.get("/console/events?status=unrouted", headers={"HX-Request": "true"})

    assert part.status_code == 200
    assert part.text.lstrip().startswith('<section id="event-results"')
    assert "<html" not in part.text and "event-filters" not in part.text
    assert listed(part) == [world.envelopes["ticket"]]


def test_an_event_shows_its_payload_and_runs(
    client: TestClient, api_users: ApiUsers, world: World, db: Any
) -> None:
    sign_in(client, api_users, "viewer")
    envelope = world.envelopes["amount"]
    page = client.get(f"/console/events/{envelope}")

    assert page.status_code == 200, page.text
    (event_id,) = db.execute(
        "SELECT event_id FROM orchestrator.event_envelopes WHERE id = %s", (envelope,)
    ).fetchone()
    # the payload, pretty-printed
    assert f"&#34;eventId&#34;: {event_id}," in page.text or f'"eventId": {event_id},' in page.text
    assert "deal 5001" in page.text and "amount" in page.text
    assert page.text.count('data-testid="event-run-row"') == 1
    assert f'href="/console/runs/{world.procurement}"' in page.text
    assert "https://dagster.ops.example/runs/dg-d1" in page.text
    assert 'href="/console/runs?object_type=deal&amp;object_id=5001"' in page.text
    # a viewer sees no replay control
    assert "/console/replays" not in page.text

    unrouted = client.get(f"/console/events/{world.envelopes['ticket']}")
    assert "no rule of the policy routes it" in unrouted.text


def test_an_operator_may_replay_an_event_from_its_page(
    client: TestClient, api_users: ApiUsers, world: World
) -> None:
    sign_in(client, api_users, "operator")
    page = client.get(f"/console/events/{world.envelopes['company']}").text

    assert 'data-testid="replay-plan-button">Replay this event' in page
    assert f'name="envelope_ids" value="{world.envelopes["company"]}"' in page
    listing = client.get("/console/events").text
    assert listing.count('data-testid="select-event"') == len(world.envelopes)


@pytest.mark.parametrize(
    ("url", "status", "named"),
    [
        ("/console/events/999", 404, "no event envelope with id 999"),
        ("/console/events/abc", 422, "path.envelope_id"),
        (f"/console/events/{BIG}", 422, "path.envelope_id"),
        ("/console/events?status=done", 422, "unknown event status"),
        ("/console/events?correlation_id=nope", 422, "query.correlation_id"),
        (f"/console/events?object_id={BIG}", 422, "query.object_id"),
        ("/console/events?subscription_type=a%20b", 422, "query.subscription_type"),
        ("/console/events?occurred_from=yesterday", 422, "query.occurred_from"),
        ("/console/replays/999", 404, "no replay with id 999"),
        ("/console/replays/abc", 422, "path.replay_id"),
        (f"/console/replays/{BIG}", 422, "path.replay_id"),
    ],
)
def test_bad_input_is_a_4xx_page_naming_it(
    client: TestClient, api_users: ApiUsers, url: str, status: int, named: str
) -> None:
    sign_in(client, api_users, "viewer")
    page = client.get(url)

    assert page.status_code == status, page.text
    assert named in page.text and 'data-testid="error"' in page.text


# --- the plan, then the replay ------------------------------------------------------------


def test_the_plan_shows_what_a_replay_would_do_and_changes_nothing(
    client: TestClient, api_users: ApiUsers, world: World, db: Any
) -> None:
    token = sign_in(client, api_users, "operator")
    before = snapshot(db)

    page = client.post(
        "/console/replays/plan",
        data={
            "csrf_token": token,
            "envelope_ids": selection(world, "company", "amount", "currency", "dealstage"),
        },
    )

    assert page.status_code == 200, page.text
    text = page.text
    assert "<html" in text  # without JavaScript: the plan is a page of its own
    assert 'data-testid="count-events">4<' in text
    assert 'data-testid="count-runs">2<' in text
    assert 'data-testid="count-reused">1<' in text  # the purchase order
    assert 'data-testid="count-reapplied">1<' in text  # the Airtable mirror
    rows = re.findall(r'data-testid="plan-workflow-row" data-workflow="([a-z_]+)"', text)
    assert rows == ["company_intake", "procurement_approval"]
    assert f"<code>{MIRROR_ID}</code>" in text and f"<code>{ORDER_ID}</code>" in text
    assert f'href="/console/runs/{world.company}"' in text  # what each run replays
    assert f'href="/console/runs/{world.procurement}"' in text
    # the kickoff waits for its approval: skipped, and why
    assert f"deal_kickoff run {world.kickoff} is still awaiting_approval" in text
    assert 'data-testid="replay-confirm">Confirm: start 2 runs' in text
    assert sorted(confirm_fields(text)["envelope_ids"]) == sorted(
        selection(world, "company", "amount", "currency", "dealstage")
    )
    assert snapshot(db) == before


def test_htmx_gets_the_plan_as_a_fragment(
    client: TestClient, api_users: ApiUsers, world: World, db: Any
) -> None:
    token = sign_in(client, api_users, "operator")
    before = snapshot(db)

    part = client.post(
        "/console/replays/plan",
        data={"envelope_ids": selection(world, "company")},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert part.status_code == 200, part.text
    assert part.text.lstrip().startswith('<section class="card" aria-labelledby="plan-title"')
    assert "<html" not in part.text
    assert 'data-testid="count-runs">1<' in part.text
    assert snapshot(db) == before


def test_confirming_the_plan_starts_the_replay_and_shows_its_runs(
    client: TestClient, api_users: ApiUsers, world: World, db: Any
) -> None:
    token = sign_in(client, api_users, "operator")
    plan = client.post(
        "/console/replays/plan",
        data={
            "csrf_token": token,
            "envelope_ids": selection(world, "company", "amount", "currency"),
        },
    )
    fields = confirm_fields(plan.text)

    started = client.post("/console/replays", data=fields, follow_redirects=False)

    assert started.status_code == 303, started.text
    location = started.headers["location"]
    match = re.fullmatch(r"/console/replays/(\d+)", location)
    assert match
    replay_id = int(match.group(1))
    with db.cursor(row_factory=dict_row) as cur:
        (replay,) = cur.execute("SELECT * FROM orchestrator.replays").fetchall()
        replayed = cur.execute(
            "SELECT id, workflow, status, replay_of FROM orchestrator.workflow_runs"
            " WHERE replay_id = %s ORDER BY id",
            (replay_id,),
        ).fetchall()
        (audit,) = cur.execute(
            "SELECT * FROM orchestrator.audit_log WHERE action = 'replay.started'"
        ).fetchall()
    actor = f"user:{api_users.emails['operator']}"
    assert (replay["id"], replay["actor"], replay["source"]) == (replay_id, actor, "operator")
    assert [(r["workflow"], r["status"], r["replay_of"]) for r in replayed] == [
        ("company_intake", "requested", world.company),
        ("procurement_approval", "requested", world.procurement),
    ]
    assert (audit["actor"], audit["entity_id"]) == (actor, str(replay_id))
    assert audit["after"]["counts"]["runs"] == 2

    page = client.get(location)
    assert page.status_code == 200
    assert actor in page.text
    shown = [
        int(i) for i in re.findall(r'data-testid="replay-run-row" data-run-id="(\d+)"', page.text)
    ]
    assert shown == [r["id"] for r in replayed]
    assert 'data-testid="replay-status-requested">2<' in page.text
    assert f'hx-get="{location}" hx-trigger="every 3s"' in page.text  # refreshes until done
    part = client.get(location, headers={"HX-Request": "true"})
    assert part.text.lstrip().startswith('<section id="replay-progress"')
    # its runs, linked both ways
    run_page = client.get(f"/console/runs/{replayed[0]['id']}").text
    assert f'href="/console/replays/{replay_id}"' in run_page
    assert 'data-testid="filter-replay"' in client.get(f"/console/runs?replay_id={replay_id}").text


def test_htmx_confirm_goes_to_the_replay_page(
    client: TestClient, api_users: ApiUsers, world: World, db: Any
) -> None:
    token = sign_in(client, api_users, "operator")

    answer = client.post(
        "/console/replays",
        data={"envelope_ids": selection(world, "company")},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert answer.status_code == 200, answer.text
    (replay_id,) = db.execute("SELECT id FROM orchestrator.replays").fetchone()
    assert answer.headers["hx-redirect"] == f"/console/replays/{replay_id}"


def test_the_filters_of_the_list_can_be_replayed_as_they_are(
    client: TestClient, api_users: ApiUsers, world: World, db: Any
) -> None:
    token = sign_in(client, api_users, "operator")
    page = client.get("/console/events?object_type=deal&object_id=5001&status=failed")
    assert listed(page) == [world.envelopes["currency"], world.envelopes["amount"]]
    form = re.search(
        r'<form method="post" action="/console/replays/plan"[^>]*class="actions">(.*?)</form>',
        page.text,
        re.S,
    )
    assert form and 'data-testid="replay-plan-filter"' in form.group(1)
    fields: dict[str, list[str]] = {}
    for name, value in _HIDDEN.findall(form.group(1)):
        fields.setdefault(name, []).append(value)
    assert fields["object_type"] == ["deal"] and fields["status"] == ["failed"]
    before = snapshot(db)

    plan = client.post("/console/replays/plan", data=fields)

    assert plan.status_code == 200, plan.text
    assert 'data-testid="count-events">2<' in plan.text
    assert 'data-testid="count-runs">1<' in plan.text
    assert confirm_fields(plan.text)["object_id"] == ["5001"]
    assert snapshot(db) == before

    since = client.get(
        "/console/events?occurred_from=2026-11-24T09:00&subscription_type=company.creation"
    )
    assert 'name="since" value="2026-11-24T09:00:00+00:00"' in since.text
    # a filter a selection cannot say (one correlation) offers no replay of the filter
    (correlation,) = db.execute(
        "SELECT correlation_id FROM orchestrator.event_envelopes WHERE id = %s",
        (world.envelopes["company"],),
    ).fetchone()
    assert (
        'data-testid="replay-plan-filter"'
        not in client.get(f"/console/events?correlation_id={correlation}").text
    )
    assert token


# --- who may, and what is refused ---------------------------------------------------------


def test_a_viewer_sees_no_replay_controls_and_a_forged_post_is_refused(
    client: TestClient, api_users: ApiUsers, world: World, db: Any
) -> None:
    token = sign_in(client, api_users, "viewer")
    for url in ("/console/events", f"/console/events/{world.envelopes['company']}"):
        page = client.get(url).text
        assert "/console/replays" not in page and 'type="checkbox"' not in page
    before = snapshot(db)

    for url in ("/console/replays/plan", "/console/replays"):
        forged = client.post(
            url, data={"csrf_token": token, "envelope_ids": selection(world, "company")}
        )
        assert forged.status_code == 403, forged.text
        assert 'data-code="forbidden"' in forged.text
    assert snapshot(db) == before


@pytest.mark.parametrize("token", [None, "not-the-token"])
@pytest.mark.parametrize("url", ["/console/replays/plan", "/console/replays"])
def test_a_post_without_its_csrf_token_is_refused(
    client: TestClient, api_users: ApiUsers, world: World, db: Any, url: str, token: str | None
) -> None:
    sign_in(client, api_users, "operator")
    before = snapshot(db)
    data: dict[str, Any] = {"envelope_ids": selection(world, "company")}
    if token is not None:
        data["csrf_token"] = token

    refused = client.post(url, data=data)

    assert refused.status_code == 403
    assert 'data-code="csrf_refused"' in refused.text
    assert snapshot(db) == before


@pytest.mark.parametrize("url", ["/console/replays/plan", "/console/replays"])
@pytest.mark.parametrize(
    ("fields", "code", "named"),
    [
        ({}, "empty_selection", "select events by envelope_ids, objects or a time range"),
        ({"envelope_ids": ["abc"]}, "invalid_request", "form.envelope_ids.0"),
        ({"envelope_ids": ["0"]}, "invalid_request", "form.envelope_ids.0"),
        ({"envelope_ids": [str(BIG)]}, "invalid_request", "form.envelope_ids.0"),
        ({"envelope_ids": [str(i) for i in range(1, 1002)]}, "selection_too_large", "at most 1000"),
        ({"object_type": ["deal"]}, "invalid_request", "type and its id together"),
        ({"since": "2026-11-24T09:00"}, "invalid_request", "form.since"),
        (
            {"since": "2026-11-24T09:00Z", "subscription_type": "a\x00"},
            "invalid_request",
            "form.subscription_type.0",
        ),
        (
            {"object_type": "deal", "object_id": str(BIG)},
            "invalid_request",
            "form.object_id.0",
        ),
        (
            {"since": "2026-11-24T09:00Z", "status": ["done"]},
            "invalid_selection",
            "unknown envelope status done",
        ),
        (
            {"envelope_ids": ["1"], "workflow": ["nope"]},
            "invalid_selection",
            "unknown workflow nope",
        ),
    ],
)
def test_a_bad_selection_is_a_422_naming_it_with_nothing_changed(
    client: TestClient,
    api_users: ApiUsers,
    world: World,
    db: Any,
    url: str,
    fields: dict[str, Any],
    code: str,
    named: str,
) -> None:
    token = sign_in(client, api_users, "operator")
    before = snapshot(db)

    refused = client.post(url, data={"csrf_token": token, **fields})

    assert refused.status_code == 422, refused.text
    assert f'data-code="{code}"' in refused.text and named in refused.text
    assert snapshot(db) == before


def test_events_that_cannot_be_replayed_show_an_empty_plan_and_refuse_to_start(
    client: TestClient, api_users: ApiUsers, world: World, db: Any
) -> None:
    token = sign_in(client, api_users, "operator")
    before = snapshot(db)
    data = {"csrf_token": token, "envelope_ids": [*selection(world, "contact"), "999"]}

    plan = client.post("/console/replays/plan", data=data)
    assert plan.status_code == 200
    assert 'data-testid="plan-nothing"' in plan.text and "replay-confirm" not in plan.text
    assert f"contact_role_mapping run {world.contact} is still running" in plan.text

    started = client.post("/console/replays", data=data, headers={"HX-Request": "true"})
    assert started.status_code == 409
    assert started.headers["hx-retarget"] == "#flash"
    assert "no selected event can be replayed" in started.text
    assert snapshot(db) == before
