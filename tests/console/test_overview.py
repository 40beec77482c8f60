"""The overview page: the key figures and charts of the published marts for the chosen period
and workflow, the live queue, and the health of each dependency (the shared health report with
its details, plus the console's own checks); an empty state that says how to build the marts."""

from __future__ import annotations

import html as html_text
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ingest_api.app import create_app
from orchestrator_core.analytics.build import build_marts
from orchestrator_core.db.migrate import head_revision
from orchestrator_core.policy.loader import LoadedPolicy
from orchestrator_core.settings import Settings
from tests.conftest import JWT_SECRET, make_settings, settings_url
from tests.console.support import signed_in_console
from tests.queue_rows import add_approval, busy_queue
from tests.support import ApiUsers, add_api_users, free_port
from tests.vendor_sandbox import SandboxServer

# The panel's rows, in order: the shared report's (database to sandbox) with the console's own
# checks (webserver, marts, policy) among them; the database once.
PANEL = [
    "Postgres",
    "Migrations",
    "Dagster daemon",
    "Dagster webserver",
    "HubSpot",
    "Airtable",
    "Notion",
    "Google",
    "OpenAI",
    "Sandbox",
    "Analytics marts",
    "Policy",
]


@contextmanager
def _signed_in(settings: Settings, users: ApiUsers) -> Iterator[TestClient]:
    """The app, with the viewer (the least of the roles) signed in to the console."""
    with TestClient(create_app(settings, settings_url(settings))) as client:
        signed_in_console(client, users.emails["viewer"])
        yield client


@pytest.fixture
def console(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, sandbox: SandboxServer
) -> Iterator[tuple[TestClient, ApiUsers, Path]]:
    kpis_path = tmp_path / "kpis.duckdb"
    # Nothing listens on this port: the Dagster webserver shows as down. The connectors use the
    # sandbox; OpenAI has no key (rules enrich).
    settings = make_settings(
        database_url,
        analytics_path=kpis_path,
        dagster_ui_url=f"http://127.0.0.1:{free_port()}",
        sandbox_url=sandbox.base_url,
    )
    users = add_api_users(db, JWT_SECRET)
    with _signed_in(settings, users) as client:
        yield client, users, kpis_path


def _yesterdays_runs(db: psycopg.Connection[Any]) -> None:
    """Company intake yesterday: two succeeded, one failed; a deal kickoff whose approval was
    decided after 2 hours; an exception open for 3 hours."""
    db.execute(
        """
        INSERT INTO orchestrator.workflow_runs (run_key, workflow, thread_id, trigger, status,
            policy_version, policy_hash, requested_at, started_at, finished_at)
        SELECT 'k' || n, w, w || '/none/' || n, '{}', s, 'v', 'h', d, d,
               d + interval '20 seconds'
        FROM (VALUES (1, 'company_intake', 'succeeded'), (2, 'company_intake', 'succeeded'),
                     (3, 'company_intake', 'failed'), (4, 'deal_kickoff', 'succeeded'))
             AS r (n, w, s),
        LATERAL (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                        - interval '1 day' + interval '10 hours' AS d) AS day
        """
    )
    approval = add_approval(db, 4, status="approved")
    db.execute(
        "UPDATE orchestrator.approvals SET created_at = r.requested_at,"
        " decided_at = r.requested_at + interval '2 hours', decided_by = 'user:someone@x.example'"
        " FROM orchestrator.workflow_runs r WHERE r.id = 4 AND approvals.id = %s",
        (approval,),
    )
    db.execute(
        "INSERT INTO orchestrator.exceptions (dedup_key, kind, severity, message, workflow,"
        " status, opened_at, last_seen_at) VALUES ('d1', 'data_quality', 'error', 'bad domain',"
        " 'company_intake', 'open', now() - interval '3 hours', now() - interval '3 hours')"
    )


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _health(html: str) -> list[tuple[str, str]]:
    """The health panel's rows in order: each name, and the text after it (status, detail)."""
    table = html.split('data-testid="health"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", table, re.DOTALL)
    return [(name, html_text.unescape(_text(rest)).strip()) for name, rest in rows]


def test_the_overview_shows_the_marts_the_queue_and_the_health(
    console: tuple[TestClient, ApiUsers, Path],
    db: psycopg.Connection[Any],
    database_url: str,
    policy: LoadedPolicy,
    sandbox: SandboxServer,
) -> None:
    client, users, kpis_path = console
    _yesterdays_runs(db)
    build_marts(database_url, policy, kpis_path)
    busy_queue(db)  # after the build: the queue is read live, not from the marts

    page = client.get("/console", params={"days": 7})
    assert page.status_code == 200, page.text
    kpis = page.text.split('data-testid="kpis"')[1].split("</div>\n  </div>")[0]
    tiles = _text(kpis)
    assert "4 workflow runs" in tiles
    assert "75.0 % of finished runs succeeded" in tiles
    assert "2.0 h median time to a decision" in tiles
    # The charts carry the exact figures.
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 3 succeeded</title>", page.text)
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 1 failed</title>", page.text)
    assert "<title>deal_kickoff · operator: 2 h</title>" in page.text
    assert "<title>1 to &lt; 24 hours: 1 open</title>" in page.text
    assert 'aria-label="Workflow runs per day"' in page.text
    # The live part: the queue as it is now, and each dependency.
    queue = _text(page.text.split('data-testid="queue"')[1].split("</section>")[0])
    # busy_queue: 3 envelopes received, 4 runs requested and 3 running, 1 parked.
    assert "3 events waiting to be routed" in queue
    assert "4 runs waiting to start" in queue and "3 runs in flight" in queue
    rows = _health(page.text)
    assert [name for name, _ in rows] == PANEL
    health = dict(rows)
    assert re.fullmatch(r"ok answers in \d+ ms", health["Postgres"])
    assert health["Migrations"] == f"ok at revision {head_revision()}, the code's head"
    # No daemon beats in the test database: down, with the report's reason.
    assert health["Dagster daemon"].startswith("down ")
    assert "heartbeat" in health["Dagster daemon"] or "Dagster storage" in health["Dagster daemon"]
    assert health["Dagster webserver"] == "down unreachable (ConnectError)"
    # Each connector with /api/health's details: mode, address, what its call answered, latency
    # and when it was checked.
    for vendor, name in (("hubspot", "HubSpot"), ("notion", "Notion"), ("google", "Google")):
        assert re.fullmatch(
            rf"ok sandbox, {re.escape(sandbox.vendor_url(vendor))}: authenticated call succeeded"
            r" \(\d+ ms\); checked \d{4}-\d\d-\d\d \d\d:\d\d UTC",
            health[name],
        ), health[name]
    assert health["OpenAI"] == "ok not configured: OPENAI_API_KEY unset: enrichment uses rules"
    assert health["Sandbox"] == f"ok {sandbox.base_url}, for airtable, google, hubspot, notion"
    assert re.fullmatch(r"ok built \d+ min ago", health["Analytics marts"])
    assert health["Policy"].startswith("ok version ")
    # The monitor /health uses: its vendor results are shared, not fetched again (TTL 60 s).
    detail = client.get("/api/health", headers=users["viewer"]).json()
    assert detail["vendors"]["hubspot"]["status"] == "ok"
    assert detail["vendors"]["hubspot"]["base_url"] == sandbox.vendor_url("hubspot")
    assert [r["vendor"] for r in sandbox.inspect("requests")["requests"]].count("hubspot") == 1

    # One workflow; a period in the URL, so the page can be shared as seen.
    one = _text(client.get("/console", params={"days": 30, "workflow": "deal_kickoff"}).text)
    assert "1 workflow runs" in one
    assert 'value="30" selected' in client.get("/console", params={"days": 30}).text

    # The live part alone, as the page's polling asks for it.
    live = client.get("/console/live", headers={"HX-Request": "true"})
    assert live.status_code == 200
    assert live.text.lstrip().startswith('<section id="live"') and "<html" not in live.text
    assert [name for name, _ in _health(live.text)] == PANEL


@contextmanager
def _silent_server() -> Iterator[str]:
    """An address that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_a_failing_or_hanging_dependency_shows_down_with_its_error_without_hanging_the_page(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    sandbox.configure(
        hubspot={"faults": {"error_500_share": 1.0}},
        notion={"faults": {"timeout_share": 1.0, "hang_seconds": 5}},
    )
    users = add_api_users(db, JWT_SECRET)
    with _silent_server() as silent:
        settings = make_settings(
            database_url,
            analytics_path=tmp_path / "kpis.duckdb",
            dagster_ui_url=silent,
            sandbox_url=sandbox.base_url,
            health_vendor_timeout_seconds=1,
        )
        with _signed_in(settings, users) as client:
            started = time.monotonic()
            live = client.get("/console/live", headers={"HX-Request": "true"})
            elapsed = time.monotonic() - started
    assert live.status_code == 200, live.text
    # The webserver's 2 s and the vendor's 1 s run at once.
    assert elapsed < 5, elapsed
    rows = _health(live.text)
    assert [name for name, _ in rows] == PANEL
    health = dict(rows)
    assert health["Dagster webserver"] == "down unreachable (ReadTimeout)"
    hubspot = sandbox.vendor_url("hubspot")
    assert health["HubSpot"].startswith(f"down sandbox, {hubspot}: error: HTTP 500")
    assert health["Notion"].startswith(
        f"down sandbox, {sandbox.vendor_url('notion')}: unreachable: no answer within 1 s"
    )
    assert health["Airtable"].startswith("ok sandbox")
    assert health["Sandbox"].startswith(f"down {sandbox.base_url}, for ")
    assert "hubspot: HTTP 500" in health["Sandbox"] and "notion: no answer" in health["Sandbox"]
    assert health["Analytics marts"] == "degraded not built yet"
    assert re.fullmatch(r"ok answers in \d+ ms", health["Postgres"])


def test_before_the_first_build_the_overview_says_how_to_build(
    console: tuple[TestClient, ApiUsers, Path],
) -> None:
    client, _, _ = console
    page = client.get("/console")
    assert page.status_code == 200
    assert 'data-testid="kpis-empty"' in page.text
    assert "orchestrator analytics build" in page.text
    assert "Analytics marts" in page.text and "not built yet" in page.text


@pytest.mark.parametrize(
    "params", [{"days": "0"}, {"days": "x"}, {"workflow": "payroll"}, {"workflow": "a\x00b"}]
)
def test_a_bad_period_or_workflow_is_a_clear_4xx(
    console: tuple[TestClient, ApiUsers, Path], params: dict[str, str]
) -> None:
    client, _, _ = console
    response = client.get("/console", params=params)
    assert response.status_code == 422, response.text
    assert "text/html" in response.headers["content-type"]
    assert next(iter(params)) in response.text
