"""The console's drift page: reconciliation's findings with their causes and values (filters,
pages, the HTMX part, the empty state), and their repair, one or many, through the same core
function as POST /api/drifts/repair (`repair_drifts`), each drift's outcome shown in place."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ingest_api.routes.drifts import MAX_REPAIR
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.reconciliation import store
from orchestrator_core.records.dispatch import dispatch_received
from tests.console.support import signed_in_console
from tests.reconciliation.test_drifts_api import DRIFTS
from tests.support import ApiUsers, hubspot_event, ingest_events

HTMX = {"HX-Request": "true"}
BIG = 2**63  # one past Postgres's bigint


@pytest.fixture
def drift_ids(db: psycopg.Connection[Any]) -> dict[str, int]:
    """Four drifts (as tests/reconciliation/test_drifts_api.py), stored as a pass stores them:
    by kind and object type."""
    reconciliation_id = store.begin(db, actor="cli:test")
    store.record_drifts(db, reconciliation_id, list(DRIFTS))
    rows = db.execute("SELECT id, kind, object_type FROM orchestrator.drifts ORDER BY id")
    return {f"{kind}:{object_type}": drift_id for drift_id, kind, object_type in rows}


@pytest.fixture
def replayable(db: psycopg.Connection[Any], database_url: str, policy: LoadedPolicy) -> None:
    """Company 9001's creation was stored and its run failed: a replay can repair it."""
    ingest_events(database_url, [hubspot_event("company.creation", objectId=9001)])
    dispatch_received(db, policy, limit=10)
    db.execute("UPDATE orchestrator.workflow_runs SET status = 'failed'")


@pytest.fixture
def operator(client: TestClient, api_users: ApiUsers) -> str:
    """The client is signed in as the operator; their CSRF token."""
    return signed_in_console(client, api_users.emails["operator"])


def shown(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="drift" data-drift-id="(\d+)"', html)]


def row(html: str, drift_id: int) -> str:
    match = re.search(rf'<tr id="drift-{drift_id}".*?</tr>', html, flags=re.S)
    assert match, f"no row for drift {drift_id}"
    return match.group(0)


def statuses(db: psycopg.Connection[Any]) -> dict[int, str]:
    return dict(db.execute("SELECT id, status FROM orchestrator.drifts").fetchall())


def count(db: psycopg.Connection[Any], sql: str) -> int:
    found = db.execute(sql).fetchone()
    assert found is not None
    return int(found[0])


def repair(
    client: TestClient,
    ids: list[Any],
    token: str | None,
    *,
    htmx: bool = True,
    query: str = "",
) -> Any:
    data: dict[str, Any] = {"drift_id": [str(i) for i in ids]}
    if token is not None:
        data["csrf_token"] = token
    return client.post(f"/console/drifts/repair{query}", data=data, headers=HTMX if htmx else None)


# --- the list ---------------------------------------------------------------------------------


def test_the_findings_show_with_their_cause_and_differing_values(
    client: TestClient, drift_ids: dict[str, int], operator: str
) -> None:
    page = client.get("/console/drifts")

    assert page.status_code == 200, page.text
    assert shown(page.text) == sorted(drift_ids.values(), reverse=True)
    field = row(page.text, drift_ids["field_drift:company"])
    assert "HubSpot company 9001" in field and "airtable/accounts" in field and "rec1" in field
    assert "<strong>City</strong>" in field
    assert "HubSpot:</span> <code>Seattle</code>" in field
    assert "mirror:</span> <code>Portland</code>" in field
    assert "hand_edit" in field and "edited by hand" in field
    assert "evidence" in field and "&#34;change&#34;: &#34;edited&#34;" in field
    # an operator may repair each open drift, alone or selected with others
    assert 'data-testid="repair-one"' in field
    assert 'form="bulk-repair"' in field
    assert 'data-testid="repair-selected"' in page.text


def test_the_empty_state_says_how_to_run_reconciliation(client: TestClient, operator: str) -> None:
    page = client.get("/console/drifts")
    assert page.status_code == 200
    assert 'data-testid="empty"' in page.text
    assert "Reconciliation has found nothing" in page.text
    assert "<code>orchestrator reconcile</code>" in page.text
    assert 'data-testid="repair-selected"' not in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=field_drift", ["field_drift:company"]),
        ("cause=event_never_received", ["missing_downstream:contact"]),
        ("target=google/calendar_events", ["missing_downstream:deal"]),
        (
            "system=airtable&object_type=company",
            ["orphan_downstream:company", "field_drift:company"],
        ),
        ("object_type=contact&object_id=7001", ["missing_downstream:contact"]),
        ("status=resolved", []),
        (
            "status=&kind=&cause=&target=&system=&object_type=&object_id=",
            [
                "missing_downstream:deal",
                "orphan_downstream:company",
                "missing_downstream:contact",
                "field_drift:company",
            ],
        ),
    ],
)
def test_filters_are_in_the_url(
    client: TestClient,
    drift_ids: dict[str, int],
    operator: str,
    query: str,
    expected: list[str],
) -> None:
    page = client.get(f"/console/drifts?{query}")
    assert page.status_code == 200, page.text
    assert shown(page.text) == [drift_ids[name] for name in expected]
    if not expected:
        assert "No drift matches these filters" in page.text


def test_pages_keep_the_filters(
    client: TestClient, drift_ids: dict[str, int], operator: str
) -> None:
    every = sorted(drift_ids.values(), reverse=True)
    first = client.get("/console/drifts?status=open&limit=3")
    assert shown(first.text) == every[:3]
    link = re.search(r'href="([^"]+)" data-testid="next-page"', first.text)
    assert link
    url = link.group(1).replace("&amp;", "&")
    assert "status=open" in url and f"before_id={every[2]}" in url
    second = client.get(url)
    assert shown(second.text) == every[3:]
    assert 'data-testid="next-page"' not in second.text
    assert 'data-testid="first-page"' in second.text


def test_an_htmx_request_gets_the_list_only(
    client: TestClient, drift_ids: dict[str, int], operator: str
) -> None:
    part = client.get("/console/drifts?kind=field_drift", headers=HTMX)
    assert part.status_code == 200
    assert part.text.lstrip().startswith('<section id="drifts-list"')
    assert "<html" not in part.text
    assert shown(part.text) == [drift_ids["field_drift:company"]]


# --- repairing ----------------------------------------------------------------------------------


def test_repairing_one_drift_starts_a_replay_and_shows_it_in_its_row(
    client: TestClient,
    db: psycopg.Connection[Any],
    drift_ids: dict[str, int],
    replayable: None,
    api_users: ApiUsers,
    operator: str,
) -> None:
    drift = drift_ids["field_drift:company"]

    answer = repair(client, [drift], operator, query="?status=open")

    assert answer.status_code == 200, answer.text
    assert answer.text.lstrip().startswith('<section id="drifts-list"')
    summary = re.search(r'data-testid="repair-summary"[^>]*>', answer.text)
    assert summary and 'data-repairing="1" data-refused="0"' in summary.group(0)
    replay_id = count(db, "SELECT max(id) FROM orchestrator.replays")
    assert f'href="/console/replays/{replay_id}"' in answer.text
    # the list is the one the form was posted from: open drifts, this one now repairing
    assert drift not in shown(answer.text)
    repaired = db.execute(
        "SELECT status, repair_replay_id, repaired_by FROM orchestrator.drifts WHERE id = %s",
        (drift,),
    ).fetchone()
    assert repaired == ("repairing", replay_id, f"user:{api_users.emails['operator']}")
    audit = db.execute(
        "SELECT actor, after->>'status' FROM orchestrator.audit_log"
        " WHERE action = 'drift.repair_requested' AND entity_id = %s",
        (str(drift),),
    ).fetchall()
    assert audit == [(f"user:{api_users.emails['operator']}", "repairing")]
    # without the status filter, its row shows the repair
    page = client.get("/console/drifts")
    assert 'data-testid="drift-status">repairing' in row(page.text, drift)
    assert 'data-testid="repair-one"' not in row(page.text, drift)


def test_repairing_several_shows_each_outcome_in_place(
    client: TestClient,
    db: psycopg.Connection[Any],
    drift_ids: dict[str, int],
    replayable: None,
    operator: str,
) -> None:
    field = drift_ids["field_drift:company"]
    contact = drift_ids["missing_downstream:contact"]
    orphan = drift_ids["orphan_downstream:company"]

    answer = repair(client, [field, contact, orphan, 999999], operator)

    assert answer.status_code == 200, answer.text
    assert re.search(r'data-repairing="1" data-refused="3"', answer.text)
    # a refusal of a drift the list does not show is named in the summary
    refused = re.findall(r'data-testid="repair-refused" data-drift-id="(\d+)"', answer.text)
    assert refused == ["999999"]
    assert "no drift with id 999999" in answer.text
    assert re.search(
        r'data-testid="repair-outcome" data-status="repairing"', row(answer.text, field)
    )
    contact_row = row(answer.text, contact)
    assert 'data-status="refused" data-code="no_stored_event"' in contact_row
    assert "orchestrator recover --since" in contact_row
    assert 'data-code="not_replayable"' in row(answer.text, orphan)
    assert "delete the row by hand" in row(answer.text, orphan)
    assert statuses(db) == {
        field: "repairing",
        contact: "open",
        orphan: "open",
        drift_ids["missing_downstream:deal"]: "open",
    }
    assert count(db, "SELECT count(*) FROM orchestrator.replays") == 1


def test_a_plain_form_post_answers_the_whole_page(
    client: TestClient,
    db: psycopg.Connection[Any],
    drift_ids: dict[str, int],
    replayable: None,
    operator: str,
) -> None:
    answer = repair(
        client, [drift_ids["field_drift:company"]], operator, htmx=False, query="?limit=2"
    )
    assert answer.status_code == 200
    assert "<html" in answer.text and 'data-testid="repair-summary"' in answer.text
    # its links lead on through the list it was posted from, not to the repair route
    link = re.search(r'href="([^"]+)" data-testid="next-page"', answer.text)
    assert link and link.group(1).startswith("/console/drifts?limit=2&amp;before_id=")
    assert statuses(db)[drift_ids["field_drift:company"]] == "repairing"


def test_what_cannot_be_repaired_says_why_and_changes_nothing(
    client: TestClient, db: psycopg.Connection[Any], drift_ids: dict[str, int], operator: str
) -> None:
    calendar = drift_ids["missing_downstream:deal"]
    answer = repair(client, [calendar], operator)
    assert answer.status_code == 200
    assert 'data-repairing="0" data-refused="1"' in answer.text
    assert "never makes a second" in answer.text
    assert set(statuses(db).values()) == {"open"}
    assert count(db, "SELECT count(*) FROM orchestrator.replays") == 0


# --- who may repair -----------------------------------------------------------------------------


def test_a_viewer_sees_no_repair_and_a_forged_post_is_refused(
    client: TestClient,
    db: psycopg.Connection[Any],
    drift_ids: dict[str, int],
    replayable: None,
    api_users: ApiUsers,
) -> None:
    token = signed_in_console(client, api_users.emails["viewer"])
    page = client.get("/console/drifts")
    assert page.status_code == 200
    assert len(shown(page.text)) == 4
    assert "repair-one" not in page.text and "repair-selected" not in page.text
    assert 'type="checkbox"' not in page.text
    audited = count(db, "SELECT count(*) FROM orchestrator.audit_log")

    forged = repair(client, [drift_ids["field_drift:company"]], token)

    assert forged.status_code == 403
    assert "needs the role" in forged.text
    assert set(statuses(db).values()) == {"open"}
    assert count(db, "SELECT count(*) FROM orchestrator.replays") == 0
    assert count(db, "SELECT count(*) FROM orchestrator.audit_log") == audited


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_repair_without_its_csrf_token_is_refused(
    client: TestClient,
    db: psycopg.Connection[Any],
    drift_ids: dict[str, int],
    replayable: None,
    operator: str,
    token: str | None,
) -> None:
    answer = repair(client, [drift_ids["field_drift:company"]], token, htmx=False)
    assert answer.status_code == 403
    assert "security token" in answer.text
    assert set(statuses(db).values()) == {"open"}
    assert count(db, "SELECT count(*) FROM orchestrator.replays") == 0


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "status", "named"),
    [
        ([], 422, "select at least one drift"),
        (["abc"], 422, "drift_id &#39;abc&#39; is not a drift id"),
        (["0"], 422, "is not a drift id"),
        (["-3"], 422, "is not a drift id"),
        ([str(BIG)], 422, "is not a drift id"),
        (["1", "x\x00"], 422, "is not a drift id"),
        (["999999"], 404, "no drift with id 999999"),
        (["1"] * (MAX_REPAIR + 1), 422, f"at most {MAX_REPAIR} drifts"),
    ],
)
def test_bad_ids_are_4xx_naming_the_problem(
    client: TestClient,
    db: psycopg.Connection[Any],
    drift_ids: dict[str, int],
    replayable: None,
    operator: str,
    ids: list[str],
    status: int,
    named: str,
) -> None:
    answer = repair(client, ids, operator)
    assert answer.status_code == status, answer.text
    assert answer.headers["HX-Retarget"] == "#flash"
    assert named in answer.text
    assert set(statuses(db).values()) == {"open"}
    assert count(db, "SELECT count(*) FROM orchestrator.replays") == 0


def test_the_most_ids_a_repair_takes_are_accepted(
    client: TestClient, drift_ids: dict[str, int], replayable: None, operator: str
) -> None:
    ids = [drift_ids["field_drift:company"]] + [BIG - 1 - i for i in range(MAX_REPAIR - 1)]
    answer = repair(client, ids, operator)
    assert answer.status_code == 200, answer.text
    assert re.search(rf'data-repairing="1" data-refused="{MAX_REPAIR - 1}"', answer.text)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/console/drifts?kind=drifted", "query.kind"),
        ("/console/drifts?status=closed", "query.status"),
        ("/console/drifts?cause=gremlins", "query.cause"),
        ("/console/drifts?target=notion/pages", "query.target"),
        ("/console/drifts?system=notion", "query.system"),
        ("/console/drifts?object_type=ticket", "query.object_type"),
        ("/console/drifts?object_id=0", "query.object_id"),
        (f"/console/drifts?object_id={BIG}", "query.object_id"),
        ("/console/drifts?object_id=abc", "query.object_id"),
        (f"/console/drifts?before_id={BIG}", "query.before_id"),
        ("/console/drifts?limit=0", "query.limit"),
        ("/console/drifts?limit=201", "query.limit"),
        ("/console/drifts?kind=a%00b", "NUL"),
    ],
)
def test_bad_filters_are_4xx_naming_the_parameter(
    client: TestClient, operator: str, url: str, named: str
) -> None:
    answer = client.get(url)
    assert answer.status_code == 422, answer.text
    assert named in answer.text
