"""GET /api/queue: the queue depth now (events waiting and the oldest one's age, workflow runs
requested and running per workflow, batch runs in flight, parked runs, pending approvals), on
rows written directly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from ingest_api.app import create_app
from ingest_api.auth.access import ROUTE_ROLES
from orchestrator_core.db.migrate import upgrade
from orchestrator_core.db.urls import with_database
from orchestrator_core.queries.queue import BATCHES_LISTED
from tests.conftest import JWT_SECRET, make_settings
from tests.queue_rows import add_approval, add_batch, add_envelope, add_run, busy_queue
from tests.support import signed_in

Conn = psycopg.Connection[Any]
# Every request reads as a viewer (who may call what: test_access_matrix.py).
pytestmark = pytest.mark.usefixtures("as_viewer")

EMPTY = {
    "empty": True,
    "envelopes": {
        "received": 0,
        "dispatched": 0,
        "oldest_received_at": None,
        "oldest_age_seconds": None,
        "newest_id": None,
        "received_since": None,
    },
    "runs": {"requested": 0, "running": 0, "requested_in_batch": 0, "by_workflow": []},
    "batches": {"in_flight": 0, "started": 0, "waiting": 0, "runs": 0, "oldest": []},
    "parked_runs": 0,
    "pending_approvals": 0,
}


def queue(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/queue", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def db_now(db: Conn) -> datetime:
    row = db.execute("SELECT now()").fetchone()
    assert row is not None and isinstance(row[0], datetime)
    return row[0]


def received_at(db: Conn, envelope_id: int) -> datetime:
    row = db.execute(
        "SELECT received_at FROM orchestrator.event_envelopes WHERE id = %s", (envelope_id,)
    ).fetchone()
    assert row is not None and isinstance(row[0], datetime)
    return row[0]


def test_every_role_may_read_the_queue() -> None:
    assert ROUTE_ROLES[("GET", "/api/queue")] == {"viewer", "operator", "admin"}


def test_an_empty_queue_is_all_zero(client: TestClient, db: Conn) -> None:
    before = db_now(db)
    body = queue(client)
    read_at = datetime.fromisoformat(body.pop("read_at"))
    assert before <= read_at <= db_now(db)  # the database's clock
    assert body == EMPTY


def test_work_done_and_runs_parked_leave_the_queue_empty(client: TestClient, db: Conn) -> None:
    for status in ("processed", "unrouted", "failed", "awaiting_approval"):
        add_envelope(db, status, age_seconds=100)
    parked = add_run(db, "deal_kickoff", "awaiting_approval")
    done = add_run(db, "company_intake", "succeeded")
    add_batch(db, "company_intake", [done], finished=True)
    add_approval(db, parked)

    body = queue(client)

    assert body["empty"] is True
    assert body["envelopes"]["received"] == body["envelopes"]["dispatched"] == 0
    assert body["envelopes"]["oldest_age_seconds"] is None
    assert body["runs"]["by_workflow"] == []
    assert body["batches"]["in_flight"] == 0
    assert (body["parked_runs"], body["pending_approvals"]) == (1, 1)


def test_counts_ages_workflows_and_batches(client: TestClient, db: Conn) -> None:
    rows = busy_queue(db)

    body = queue(client)

    assert body["empty"] is False
    envelopes = body["envelopes"]
    assert (envelopes["received"], envelopes["dispatched"]) == (3, 2)
    # The oldest waiting envelope is a dispatched one; older envelopes are done.
    assert datetime.fromisoformat(envelopes["oldest_received_at"]) == received_at(
        db, rows["oldest_envelope"]
    )
    assert 600 <= envelopes["oldest_age_seconds"] <= 610
    assert envelopes["newest_id"] == rows["newest_envelope"]
    assert envelopes["received_since"] is None

    assert body["runs"] == {
        "requested": 4,
        "running": 3,
        "requested_in_batch": 2,
        "by_workflow": [
            {"workflow": "company_intake", "requested": 3, "running": 1, "requested_in_batch": 2},
            {
                "workflow": "contact_role_mapping",
                "requested": 1,
                "running": 2,
                "requested_in_batch": 0,
            },
        ],
    }

    batches = body["batches"]
    assert {k: v for k, v in batches.items() if k != "oldest"} == {
        "in_flight": 2,
        "started": 1,
        "waiting": 1,
        "runs": 3,
    }
    started, waiting = batches["oldest"]
    assert (started["id"], started["size"], started["phase"]) == (
        rows["batches"]["started"],
        2,
        "start",
    )
    assert started["started_at"] is not None and started["dagster_run_id"] is not None
    assert (waiting["id"], waiting["size"]) == (rows["batches"]["waiting"], 1)
    assert waiting["started_at"] is None and waiting["dagster_run_id"] is None
    assert waiting["workflow"] == "company_intake"
    assert datetime.fromisoformat(waiting["requested_at"]) <= db_now(db)

    assert (body["parked_runs"], body["pending_approvals"]) == (1, 1)


def test_the_age_of_the_oldest_follows_the_database_clock(client: TestClient, db: Conn) -> None:
    add_envelope(db, "received", age_seconds=3 * 3600)
    add_envelope(db, "dispatched", age_seconds=60)
    assert 3 * 3600 <= queue(client)["envelopes"]["oldest_age_seconds"] <= 3 * 3600 + 10


def test_envelopes_received_since_an_earlier_reading(client: TestClient, db: Conn) -> None:
    add_envelope(db, "received")
    first = queue(client)["envelopes"]
    assert queue(client, since_envelope_id=first["newest_id"])["envelopes"]["received_since"] == 0
    add_envelope(db, "received")
    add_envelope(db, "unrouted")  # arrived and already out of the queue: still arrived
    later = queue(client, since_envelope_id=first["newest_id"])["envelopes"]
    assert later["received_since"] == 2
    assert later["newest_id"] == first["newest_id"] + 2
    assert queue(client, since_envelope_id=0)["envelopes"]["received_since"] == 3


def test_only_the_oldest_batches_are_listed_and_all_are_counted(
    client: TestClient, db: Conn
) -> None:
    runs = [add_run(db, "company_intake", "requested") for _ in range(BATCHES_LISTED + 3)]
    batch_ids = [add_batch(db, "company_intake", [run]) for run in runs]

    batches = queue(client)["batches"]

    assert (batches["in_flight"], batches["waiting"], batches["runs"]) == (len(runs),) * 3
    assert [b["id"] for b in batches["oldest"]] == batch_ids[:BATCHES_LISTED]


@pytest.mark.parametrize(
    "value", ["-1", "abc", "1.5", str(2**63), "", "99999999999999999999999999"]
)
def test_a_bad_since_envelope_id_is_422(client: TestClient, value: str) -> None:
    response = client.get("/api/queue", params={"since_envelope_id": value})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "query.since_envelope_id"


def test_the_largest_id_is_accepted(client: TestClient) -> None:
    body = queue(client, since_envelope_id=2**63 - 1)
    assert body["envelopes"]["received_since"] == 0


# -- the database away ----------------------------------------------------------------------


@pytest.fixture
def own_database(admin_url: str) -> Iterator[tuple[str, str]]:
    """A database of its own, so the test can lock everyone out of it."""
    name = f"orchestrator_queue_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(admin_url, name)
    upgrade(url)
    yield name, url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_an_unreachable_database_is_503(admin_url: str, own_database: tuple[str, str]) -> None:
    name, url = own_database
    with psycopg.connect(url, autocommit=True) as conn:
        viewer = signed_in(conn, "viewer@orchestrator.example", "viewer", secret=JWT_SECRET)
    with TestClient(create_app(make_settings(url), url)) as client:
        assert client.get("/api/queue", headers=viewer).status_code == 200
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(name)
                )
            )
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        response = client.get("/api/queue", headers=viewer)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "database_unavailable"
