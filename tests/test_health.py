"""Health: /health/live, /health/ready, /health (public summary) and /api/health (details),
each dependency reported down when it is down (database, migrations, vendors: the daemon is in
tests/orchestration/test_daemon_health.py), and what the webhook answers while the database is
away."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from psycopg import sql

from ingest_api.app import create_app
from orchestrator_core.db.migrate import alembic_config, head_revision, upgrade
from orchestrator_core.db.urls import with_database
from orchestrator_core.health.model import safe_error
from tests.conftest import JWT_SECRET, WEBHOOK_SECRET, make_settings
from tests.support import (
    ApiUsers,
    delivery_body,
    free_port,
    hubspot_event,
    signed_headers,
    signed_in,
)
from tests.vendor_sandbox import CANARY, SandboxServer

SANDBOXED = ("hubspot", "airtable", "notion", "google")


def test_health_reports_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] in ("ok", "degraded")
    assert body["database"]["status"] == "ok"
    assert body["database"]["latency_ms"] >= 0


@pytest.fixture
def sandboxed_client(
    db: psycopg.Connection[Any], database_url: str, sandbox: SandboxServer
) -> Iterator[TestClient]:
    """The app with every connector on the sandbox, vendor results kept for a minute."""
    settings = make_settings(database_url, sandbox_url=sandbox.base_url)
    with TestClient(create_app(settings, database_url)) as test_client:
        yield test_client


def test_every_dependency_is_reported_with_its_latency(
    sandboxed_client: TestClient, api_users: ApiUsers, sandbox: SandboxServer
) -> None:
    public = sandboxed_client.get("/health")
    detail = sandboxed_client.get("/api/health", headers=api_users["viewer"])

    # No daemon runs in this test database: degraded, but this replica serves (200).
    assert public.status_code == 200 and detail.status_code == 200
    body = detail.json()
    assert body["status"] == "degraded"
    assert body["database"]["status"] == "ok" and body["database"]["last_error"] is None
    head = head_revision()
    assert body["migrations"] == {
        **body["migrations"],
        "status": "ok",
        "revision": head,
        "head": head,
        "last_error": None,
    }
    assert body["dagster_daemon"]["status"] == "down"
    assert (
        "heartbeat" in body["dagster_daemon"]["last_error"]
        or "Dagster storage" in (body["dagster_daemon"]["last_error"])
    )
    for vendor in SANDBOXED:
        entry = body["vendors"][vendor]
        assert (entry["status"], entry["mode"], entry["reachability"]) == ("ok", "sandbox", "ok")
        assert entry["latency_ms"] > 0 and entry["last_error"] is None
        assert entry["base_url"] == sandbox.vendor_url(vendor)
    assert body["vendors"]["openai"]["status"] == "not configured"
    assert body["vendors"]["openai"]["mode"] == "not configured"
    assert body["sandbox"]["status"] == "ok"
    assert body["sandbox"]["vendors"] == sorted(SANDBOXED)
    # Each vendor was called once, by a real authenticated request, for both answers.
    assert sorted(r["vendor"] for r in sandbox.inspect("requests")["requests"]) == sorted(SANDBOXED)

    # The public answer: statuses and latencies only (no error text, address or mode).
    summary = public.json()
    assert summary["status"] == "degraded"
    assert summary["database"].keys() == {"status", "latency_ms"}
    assert summary["vendors"]["hubspot"] == {
        "status": "ok",
        "latency_ms": summary["vendors"]["hubspot"]["latency_ms"],
    }
    assert sandbox.base_url.split("//")[1] not in public.text
    # The details are for signed-in users (the matrix: GET /api/health).
    assert sandboxed_client.get("/api/health").status_code == 401


def test_live_and_ready_while_everything_is_up(sandboxed_client: TestClient) -> None:
    assert sandboxed_client.get("/health/live").json() == {"status": "ok"}
    ready = sandboxed_client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready" and ready.json()["problems"] == []


def test_a_failing_vendor_is_down_and_its_result_is_reused_for_the_ttl(
    db: psycopg.Connection[Any], database_url: str, sandbox: SandboxServer, api_users: ApiUsers
) -> None:
    sandbox.configure(hubspot={"faults": {"error_500_share": 1.0}})
    settings = make_settings(database_url, sandbox_url=sandbox.base_url)
    with TestClient(create_app(settings, database_url)) as client:
        body = client.get("/api/health", headers=api_users["operator"]).json()
        hubspot = body["vendors"]["hubspot"]
        assert (hubspot["status"], hubspot["reachability"]) == ("down", "error")
        assert hubspot["last_error"].startswith("HTTP 500")
        assert body["vendors"]["airtable"]["status"] == "ok"
        assert body["sandbox"]["status"] == "down" and "hubspot" in body["sandbox"]["last_error"]
        assert body["status"] == "degraded"
        assert client.get("/health").status_code == 200  # a vendor never takes a replica out

        sandbox.configure()  # HubSpot is back, but the last check is reused for 60 s
        again = client.get("/health").json()
        assert again["vendors"]["hubspot"]["status"] == "down"
        assert len(sandbox.requests("hubspot")) == 1  # no retry, no second call

    # With no reuse (TTL 0), the next request checks again and sees it back.
    fresh = make_settings(database_url, sandbox_url=sandbox.base_url, health_vendor_ttl_seconds=0)
    with TestClient(create_app(fresh, database_url)) as client:
        assert client.get("/health").json()["vendors"]["hubspot"]["status"] == "ok"


def test_a_live_connector_on_a_closed_port_is_unreachable_and_its_key_never_shown(
    db: psycopg.Connection[Any], database_url: str, api_users: ApiUsers
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(
        database_url,
        sandbox_url=closed,
        notion_token=CANARY,
        notion_base_url=f"{closed}/notion",
        health_vendor_timeout_seconds=1,
    )
    with TestClient(create_app(settings, database_url)) as client:
        started = time.monotonic()
        detail = client.get("/api/health", headers=api_users["admin"])
        assert time.monotonic() - started < 5
    notion = detail.json()["vendors"]["notion"]
    assert (notion["mode"], notion["status"], notion["reachability"]) == (
        "live",
        "down",
        "unreachable",
    )
    assert notion["last_error"]
    assert CANARY not in detail.text


def test_errors_never_carry_credentials() -> None:
    error = RuntimeError(
        "connection to postgresql://app:s3cret@db.internal:5432/x failed; password=s3cret"
    )
    text = safe_error(error, secrets=["tok-123"])
    assert "s3cret" not in text and text.startswith("RuntimeError: ")
    assert safe_error("Bearer tok-123 refused", secrets=["tok-123"]) == "Bearer *** refused"


@contextmanager
def _database(admin_url: str, revision: str) -> Iterator[tuple[str, str]]:
    name = f"orchestrator_outage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(admin_url, name)
    upgrade(url, revision)
    try:
        yield name, url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def own_database(admin_url: str) -> Iterator[tuple[str, str]]:
    """A database of its own, so the test can lock everyone out of it."""
    with _database(admin_url, "head") as database:
        yield database


def test_migrations_behind_make_the_replica_not_ready_but_still_serving(
    admin_url: str,
) -> None:
    head = head_revision()
    assert head is not None
    scripts = ScriptDirectory.from_config(alembic_config("postgresql://unused/unused"))
    earlier = scripts.get_revision(head).down_revision
    assert isinstance(earlier, str)
    with _database(admin_url, earlier) as (_, url):
        with psycopg.connect(url, autocommit=True) as conn:
            admin = signed_in(conn, "admin@orchestrator.example", "admin", secret=JWT_SECRET)
        with TestClient(create_app(make_settings(url), url)) as client:
            ready = client.get("/health/ready")
            health = client.get("/health")
            detail = client.get("/api/health", headers=admin).json()
    assert ready.status_code == 503
    assert ready.json()["problems"] == [
        f"migrations not current: the database is at {earlier}, this code at {head}"
    ]
    assert ready.json()["migrations"] == {"status": "down", "revision": earlier, "head": head}
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["migrations"]["status"] == "down"
    assert detail["migrations"]["revision"] == earlier
    assert "orchestrator db upgrade" in detail["migrations"]["last_error"]


def _set_reachable(admin_url: str, name: str, reachable: bool) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.Literal(reachable)
            )
        )
        if not reachable:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )


def test_database_outage_is_503_everywhere_and_recovers(
    admin_url: str, own_database: tuple[str, str]
) -> None:
    name, url = own_database
    url_webhook = "http://testserver/webhooks/hubspot"
    body = delivery_body([hubspot_event()])
    headers = signed_headers(body, url_webhook, WEBHOOK_SECRET)
    with psycopg.connect(url, autocommit=True) as conn:
        viewer = signed_in(conn, "viewer@orchestrator.example", "viewer", secret=JWT_SECRET)
    with TestClient(create_app(make_settings(url), url)) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/api/events", headers=viewer).status_code == 200
        _set_reachable(admin_url, name, False)
        try:
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["status"] == "unavailable"
            assert health.json()["database"]["status"] == "down"
            assert health.json()["migrations"]["status"] == "down"  # not checked
            assert "last_error" not in health.text  # no error text in public
            ready = client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["problems"] == ["database unreachable"]
            assert client.get("/health/live").status_code == 200  # the process is up

            started = time.monotonic()
            webhook = client.post("/webhooks/hubspot", content=body, headers=headers)
            assert webhook.status_code == 503
            assert webhook.json()["error"]["code"] == "storage_unavailable"
            assert time.monotonic() - started < 5.0  # inside HubSpot's timeout, so it retries

            # A valid token, but its account cannot be looked up: 503, not 401 (retry, do not
            # log in again).
            events = client.get("/api/events", headers=viewer)
            assert events.status_code == 503
            assert events.json()["error"]["code"] == "database_unavailable"
        finally:
            _set_reachable(admin_url, name, True)

        deadline = time.monotonic() + 20
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline, "health did not recover"
            time.sleep(0.5)
        # HubSpot's redelivery after the outage is stored, and the token works again.
        assert client.post("/webhooks/hubspot", content=body, headers=headers).status_code == 200
        assert client.get("/api/events", headers=viewer).json()["items"][0]["object_id"] == 7001
    with psycopg.connect(url) as conn:
        row: Any = conn.execute("SELECT count(*) FROM orchestrator.event_envelopes").fetchone()
        assert row[0] == 1
