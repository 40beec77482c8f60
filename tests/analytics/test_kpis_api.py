"""GET /api/kpis: the headline figures from the published marts, 404 before the first build,
a clear 422 for a bad period or workflow, and 200s all through a rebuild (readers keep the file
they opened; the next request opens the new one)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ingest_api.app import create_app
from orchestrator_core.analytics.build import build_marts
from orchestrator_core.policy.loader import LoadedPolicy
from tests.conftest import JWT_SECRET, make_settings, settings_url
from tests.support import ApiUsers, add_api_users


def _runs(db: psycopg.Connection[Any]) -> None:
    """Three company intake runs yesterday (two succeeded in 10 s and 30 s, one failed) and a
    deal kickoff parked at an approval."""
    db.execute(
        """
        INSERT INTO orchestrator.workflow_runs (run_key, workflow, thread_id, trigger, status,
            outcome, policy_version, policy_hash, requested_at, started_at, finished_at)
        SELECT 'k' || n, w, w || '/none/' || n, '{}', s, NULL, 'v', 'h', d, d,
               d + make_interval(secs => secs)
        FROM (VALUES
            (1, 'company_intake', 'succeeded', 10),
            (2, 'company_intake', 'succeeded', 30),
            (3, 'company_intake', 'failed', 20),
            (4, 'deal_kickoff', 'awaiting_approval', NULL)
        ) AS r (n, w, s, secs),
        LATERAL (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                        - interval '1 day' + interval '10 hours' AS d) AS day
        """
    )


@pytest.fixture
def kpis_path(tmp_path: Path) -> Path:
    return tmp_path / "analytics" / "kpis.duckdb"


@pytest.fixture
def kpi_client(
    db: psycopg.Connection[Any], database_url: str, kpis_path: Path
) -> Iterator[tuple[TestClient, ApiUsers]]:
    settings = make_settings(database_url, analytics_path=kpis_path)
    users = add_api_users(db, JWT_SECRET)
    with TestClient(create_app(settings, settings_url(settings))) as client:
        client.headers.update(users["viewer"])
        yield client, users


def test_before_the_first_build_the_answer_says_how_to_build(
    kpi_client: tuple[TestClient, ApiUsers],
) -> None:
    client, _ = kpi_client
    response = client.get("/api/kpis")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "kpis_not_built"
    assert "orchestrator analytics build" in error["message"]


def test_the_figures_come_from_the_published_marts(
    kpi_client: tuple[TestClient, ApiUsers],
    db: psycopg.Connection[Any],
    database_url: str,
    kpis_path: Path,
    policy: LoadedPolicy,
) -> None:
    client, _ = kpi_client
    _runs(db)
    report = build_marts(database_url, policy, kpis_path)

    everything = client.get("/api/kpis")
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["build"]["built_at"] == report.built_at.replace(tzinfo=None).isoformat()
    assert body["build"]["models_built"] == report.models and body["build"]["tests_passed"] > 0
    assert body["period"]["end"] == report.built_at.date().isoformat()
    runs = body["runs"]
    assert (runs["total"], runs["succeeded"], runs["failed"], runs["awaiting_approval"]) == (
        4,
        2,
        1,
        1,
    )
    assert runs["success_rate"] == pytest.approx(2 / 3)
    assert runs["p50_duration_seconds"] == pytest.approx(20.0)  # 10, 20, 30
    assert len(body["series"]) == 30
    yesterday = body["series"][-2]
    assert (yesterday["runs_succeeded"], yesterday["runs_failed"], yesterday["runs_open"]) == (
        2,
        1,
        1,
    )
    assert {row["cost_centre"] for row in body["spend"]} == set(
        policy.policy.procurement.cost_centres
    )

    one = client.get("/api/kpis", params={"workflow": "deal_kickoff"}).json()
    assert (one["workflow"], one["runs"]["total"], one["runs"]["awaiting_approval"]) == (
        "deal_kickoff",
        1,
        1,
    )
    day = body["series"][-2]["day"]
    only_yesterday = client.get("/api/kpis", params={"from": day, "to": day}).json()
    assert only_yesterday["period"] == {"start": day, "end": day}
    assert only_yesterday["runs"]["total"] == 4 and len(only_yesterday["series"]) == 1
    before = client.get("/api/kpis", params={"from": "2020-01-01", "to": "2020-01-31"}).json()
    assert before["runs"]["total"] == 0 and before["runs"]["success_rate"] is None


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "before it starts"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "longer than"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"workflow": "payroll"}, "workflow"),
    ],
)
def test_a_bad_period_or_workflow_gets_a_422_naming_it(
    kpi_client: tuple[TestClient, ApiUsers], params: dict[str, str], named: str
) -> None:
    client, _ = kpi_client
    response = client.get("/api/kpis", params=params)
    assert response.status_code == 422, response.text
    assert named in response.text


def test_readers_get_answers_all_through_a_rebuild(
    kpi_client: tuple[TestClient, ApiUsers],
    db: psycopg.Connection[Any],
    database_url: str,
    kpis_path: Path,
    policy: LoadedPolicy,
) -> None:
    client, _ = kpi_client
    first = build_marts(database_url, policy, kpis_path)
    _runs(db)
    rebuilt: list[Any] = []
    rebuild = threading.Thread(
        target=lambda: rebuilt.append(build_marts(database_url, policy, kpis_path))
    )
    rebuild.start()
    answers: list[tuple[int, int | None]] = []
    while rebuild.is_alive():
        response = client.get("/api/kpis")
        answers.append((response.status_code, response.json().get("runs", {}).get("total")))
    rebuild.join()
    assert rebuilt, "the rebuild failed"
    after = client.get("/api/kpis").json()

    assert len(answers) >= 10  # the rebuild takes seconds; readers were served meanwhile
    assert {status for status, _ in answers} == {200}
    # Each answer is one whole build: the old one (no runs) or the new one (four), never a mix.
    assert {total for _, total in answers} <= {0, 4}
    assert after["runs"]["total"] == 4
    assert after["build"]["built_at"] > first.built_at.replace(tzinfo=None).isoformat()
