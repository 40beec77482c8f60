"""`GET /api/audit`: the audit trail for viewers and admins, newest first, filtered by entity,
actor, action and time, paged by seq, each row with the hashes that chain it to the one before."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from orchestrator_core import audit
from orchestrator_core.audit import GENESIS_HASH, verify_chain
from tests.support import ApiUsers

# (actor, action, entity_type, entity_id), oldest first.
ENTRIES = [
    ("hubspot", "event.received", "event", "1"),
    ("system", "run.requested", "workflow_run", "1"),
    ("user:ops@harborlabs.example", "exception.resolved", "exception", "7"),
    ("hubspot", "event.received", "event", "2"),
    ("schedule", "approval.expired", "approval", "3"),
    ("user:ops@harborlabs.example", "approval.approved", "approval", "4"),
    ("user:ada@harborlabs.example", "approval.rejected", "approval", "5"),
    ("system", "run.requested", "workflow_run", "2"),
]


@pytest.fixture
def trail(db: psycopg.Connection[Any], api_users: ApiUsers) -> None:
    """The entries above, each in its own transaction (so each has its own time), as the
    product's writers append them."""
    for number, (actor, action, entity_type, entity_id) in enumerate(ENTRIES):
        audit.append(
            db,
            audit.AuditEntry(
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                before={"n": number - 1} if number else None,
                after={"n": number},
                correlation_id=f"corr-{number}",
            ),
        )


def page(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get("/api/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def keys(items: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(i["actor"], i["action"], i["entity_type"], i["entity_id"]) for i in items]


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_viewers_and_admins_read_the_trail_newest_first(
    client: TestClient, api_users: ApiUsers, trail: None, role: str
) -> None:
    body = page(client, api_users[role])
    assert body["next_cursor"] is None
    items = body["items"]
    assert keys(items) == list(reversed(ENTRIES))
    assert [i["seq"] for i in items] == list(range(len(ENTRIES), 0, -1))
    newest = items[0]
    assert set(newest) == {
        "seq",
        "id",
        "occurred_at",
        "actor",
        "action",
        "entity_type",
        "entity_id",
        "before",
        "after",
        "correlation_id",
        "policy_version",
        "prev_hash",
        "row_hash",
    }
    assert (newest["before"], newest["after"]) == ({"n": 6}, {"n": 7})
    assert newest["correlation_id"] == "corr-7"
    assert items[-1]["before"] is None


def test_operators_may_not_read_it(client: TestClient, api_users: ApiUsers, trail: None) -> None:
    response = client.get("/api/audit", headers=api_users["operator"])
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "ops@harborlabs.example" not in response.text


def test_each_row_is_chained_to_the_one_before(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, trail: None
) -> None:
    oldest_first = list(reversed(page(client, api_users["viewer"])["items"]))
    assert oldest_first[0]["prev_hash"] == GENESIS_HASH
    for before, row in itertools.pairwise(oldest_first):
        assert row["seq"] == before["seq"] + 1
        assert row["prev_hash"] == before["row_hash"]
    assert len({row["row_hash"] for row in oldest_first}) == len(oldest_first)
    assert all(len(row["row_hash"]) == 64 for row in oldest_first)
    # The API shows the hashes the database chain holds, which verify from the first row.
    report = verify_chain(db)
    assert report.intact, report.problem
    assert (report.head_seq, report.head_hash) == (
        oldest_first[-1]["seq"],
        oldest_first[-1]["row_hash"],
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"entity_type": "approval"}, [6, 5, 4]),
        ({"entity_type": "approval", "entity_id": "4"}, [5]),
        ({"entity_type": "event", "entity_id": "4"}, []),
        ({"actor": "user:ops@harborlabs.example"}, [5, 2]),
        ({"actor": "hubspot", "action": "event.received"}, [3, 0]),
        ({"action": "run.requested"}, [7, 1]),
        ({"action": "nothing.like.it"}, []),
    ],
)
def test_filters(
    client: TestClient,
    api_users: ApiUsers,
    trail: None,
    params: dict[str, str],
    expected: list[int],
) -> None:
    items = page(client, api_users["admin"], **params)["items"]
    assert keys(items) == [ENTRIES[n] for n in expected]


def test_filter_by_time(client: TestClient, api_users: ApiUsers, trail: None) -> None:
    oldest_first = list(reversed(page(client, api_users["viewer"])["items"]))
    times = [datetime.fromisoformat(row["occurred_at"]) for row in oldest_first]
    assert times == sorted(times)
    # From the third row's time (inclusive) to the sixth's (exclusive).
    window = page(
        client,
        api_users["viewer"],
        occurred_from=times[2].isoformat(),
        occurred_to=times[5].isoformat(),
    )["items"]
    assert [row["seq"] for row in window] == [5, 4, 3]
    later = times[-1] + timedelta(seconds=1)
    assert page(client, api_users["viewer"], occurred_from=later.isoformat())["items"] == []
    assert len(page(client, api_users["viewer"], occurred_to=later.isoformat())["items"]) == len(
        ENTRIES
    )
    # Time and the other filters together.
    both = page(
        client, api_users["viewer"], action="event.received", occurred_from=times[1].isoformat()
    )["items"]
    assert keys(both) == [ENTRIES[3]]


def test_pages_with_a_cursor(client: TestClient, api_users: ApiUsers, trail: None) -> None:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["before_seq"] = cursor
        body = page(client, api_users["viewer"], **params)
        seen += [row["seq"] for row in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert cursor == body["items"][-1]["seq"]
    assert pages == 3
    assert seen == list(range(len(ENTRIES), 0, -1))
    # A page that ends exactly at the last row has no next page.
    assert page(client, api_users["viewer"], limit=len(ENTRIES))["next_cursor"] is None
    # Filters hold across pages.
    first = page(client, api_users["viewer"], entity_type="approval", limit=2)
    assert [row["entity_id"] for row in first["items"]] == ["5", "4"]
    rest = page(
        client,
        api_users["viewer"],
        entity_type="approval",
        limit=2,
        before_seq=first["next_cursor"],
    )
    assert ([row["entity_id"] for row in rest["items"]], rest["next_cursor"]) == (["3"], None)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "query.limit"),
        ("limit=501", "query.limit"),
        ("before_seq=0", "query.before_seq"),
        ("before_seq=x", "query.before_seq"),
        ("occurred_from=yesterday", "query.occurred_from"),
        ("occurred_to=2026-13-01", "query.occurred_to"),
    ],
)
def test_bad_parameters_name_the_field(
    client: TestClient, api_users: ApiUsers, query: str, field: str
) -> None:
    response = client.get(f"/api/audit?{query}", headers=api_users["viewer"])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [d["field"] for d in error["details"]] == [field]


def test_the_api_s_own_writes_are_in_the_trail(
    client: TestClient, api_users: ApiUsers, trail: None
) -> None:
    """What a person does through the API is there, by their account."""
    created = client.post(
        "/api/users",
        json={"email": "new@orchestrator.example", "role": "viewer", "password": "x" * 16},
        headers=api_users["admin"],
    )
    assert created.status_code == 201, created.text
    client.post("/api/auth/token", data={"username": "new@orchestrator.example", "password": "no"})
    newest = page(client, api_users["viewer"], limit=2)["items"]
    assert [(row["actor"], row["action"]) for row in newest] == [
        ("login:new@orchestrator.example", "auth.login_failed"),
        (f"user:{api_users.emails['admin']}", "user.created"),
    ]
    assert newest[0]["prev_hash"] == newest[1]["row_hash"]
    assert "x" * 16 not in str(newest)
