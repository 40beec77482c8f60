"""GET /health, and what the webhook answers while the database is away."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from ingest_api.app import create_app
from orchestrator_core.db.migrate import upgrade
from orchestrator_core.db.urls import with_database
from tests.conftest import JWT_SECRET, WEBHOOK_SECRET, make_settings
from tests.support import delivery_body, hubspot_event, signed_headers, signed_in


def test_health_reports_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["latency_ms"] >= 0


@pytest.fixture
def own_database(admin_url: str) -> Iterator[tuple[str, str]]:
    """A database of its own, so the test can lock everyone out of it."""
    name = f"orchestrator_outage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(admin_url, name)
    upgrade(url)
    yield name, url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


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
            assert health.json()["database"]["status"] == "unreachable"

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
