"""The Dagster daemon's health as the API reads it: heartbeats in a real Dagster instance's
storage (schema dagster of the test database), read by plain SQL. Missing, stale or fresh."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._daemon.types import DaemonHeartbeat  # the record the daemon itself writes
from fastapi.testclient import TestClient

from ingest_api.app import create_app
from orchestrator_core.settings import Settings
from tests.conftest import make_settings
from tests.support import ApiUsers


@pytest.fixture
def heartbeats(
    dagster_instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> Iterator[psycopg.Connection[Any]]:
    """Dagster's heartbeat table (made by the real instance), empty before and after."""
    db.execute("DELETE FROM dagster.daemon_heartbeats")
    yield db
    db.execute("DELETE FROM dagster.daemon_heartbeats")


def _daemon(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/health", headers=headers)
    assert response.status_code == 200, response.text
    daemon: dict[str, Any] = response.json()["dagster_daemon"]
    return daemon


def test_the_default_daemon_types_are_those_the_product_s_instance_runs(
    dagster_instance: dg.DagsterInstance,
) -> None:
    required = Settings(_env_file=None).health_daemon_types.split(",")  # type: ignore[call-arg]
    assert sorted(required) == sorted(dagster_instance.get_required_daemon_types())


def test_the_daemon_is_down_without_heartbeats_stale_and_up_when_beating(
    dagster_instance: dg.DagsterInstance,
    heartbeats: psycopg.Connection[Any],
    database_url: str,
    api_users: ApiUsers,
) -> None:
    settings = make_settings(database_url, health_daemon_stale_seconds=60)
    required = dagster_instance.get_required_daemon_types()
    with TestClient(create_app(settings, database_url)) as client:
        headers = api_users["viewer"]
        # Never ran: down, every type named.
        missing = _daemon(client, headers)
        assert missing["status"] == "down"
        assert missing["last_error"].startswith("no heartbeat from ")
        assert all(kind in missing["last_error"] for kind in required)
        assert client.get("/health").json()["dagster_daemon"]["status"] == "down"

        # Beating: every type's heartbeat written as the daemon writes it.
        for kind in required:
            dagster_instance.add_daemon_heartbeat(
                DaemonHeartbeat(time.time(), kind, "daemon-under-test", errors=[])
            )
        beating = _daemon(client, headers)
        assert beating["status"] == "ok", beating
        assert beating["last_error"] is None
        assert set(beating["heartbeats"]) == set(required)
        assert all(0 <= beat["age_seconds"] < 30 for beat in beating["heartbeats"].values())

        # One type silent for 10 minutes (its row rewritten by SQL): down, that type named.
        heartbeats.execute(
            """
            UPDATE dagster.daemon_heartbeats
            SET body = jsonb_set(body::jsonb, '{timestamp}',
                                 to_jsonb(EXTRACT(EPOCH FROM now()) - 600))::text,
                "timestamp" = (now() AT TIME ZONE 'UTC') - interval '10 minutes'
            WHERE daemon_type = 'SENSOR'
            """
        )
        stale = _daemon(client, headers)
        assert stale["status"] == "down"
        assert stale["last_error"] == "no heartbeat for over 60 s from SENSOR"
        assert stale["heartbeats"]["SENSOR"]["stale"] is True
        assert 590 < stale["heartbeats"]["SENSOR"]["age_seconds"] < 700
        # Dagster's own reading of the same row agrees.
        assert time.time() - dagster_instance.get_daemon_heartbeats()["SENSOR"].timestamp > 590
        overall = client.get("/health")
        assert overall.status_code == 200 and overall.json()["status"] == "degraded"
