"""GET /metrics: the API's counters and latency histograms, the product's state read from
Postgres at scrape time, the Dagster side's figures from the rows it writes, summed over every
API worker and never duplicated; and who may read it (METRICS_TOKEN)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from ingest_api.app import create_app
from ingest_api.metrics import VENDOR_EVENTS, ApiMetrics, StateCollector, StateRead
from orchestrator_core.db.pool import Database
from orchestrator_core.queries.metrics import (
    LATENCY_BUCKETS,
    HistoryReading,
    LatencyHistogram,
    StateReading,
)
from orchestrator_core.records.exceptions import NewException, open_exception
from orchestrator_core.vendor_calls import VendorCallCounts
from resources.errors import BadDataError, RateLimitedError
from resources.resilience import ResilientCaller, RetryPolicy
from tests.conftest import JWT_SECRET, WEBHOOK_SECRET, make_settings, settings_url
from tests.queue_rows import add_approval, add_envelope, add_run
from tests.support import (
    ApiUsers,
    delivery_body,
    hubspot_event,
    signed_headers,
    start_live_server,
)

Conn = psycopg.Connection[Any]
TOKEN = "metrics-token-for-the-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
P = "hubspot_orchestrator_"
DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture
def metrics_client(db: Conn, database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url, metrics_token=TOKEN)
    with TestClient(create_app(settings, settings_url(settings))) as client:
        yield client


def scrape(base: TestClient | str) -> dict[str, list[Sample]]:
    """The families of one scrape (parsed by prometheus-client's own parser), by name."""
    if isinstance(base, str):
        response = httpx.get(f"{base}/metrics", headers=AUTH, timeout=10)
    else:
        response = base.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(response.text):
        assert family.name not in families, f"{family.name} twice"
        families[family.name] = family.samples
    return families


def value(families: dict[str, list[Sample]], sample: str, **labels: str) -> float | None:
    """The value of the sample `sample` with exactly these labels, or None."""
    family = sample.removesuffix("_total").removesuffix("_bucket").removesuffix("_count")
    family = family.removesuffix("_sum")
    found = [s.value for s in families.get(family, []) if s.name == sample and s.labels == labels]
    assert len(found) <= 1, f"{sample}{labels} is duplicated"
    return found[0] if found else None


def post(client: TestClient, body: bytes, **headers: str) -> int:
    signed = signed_headers(body, "http://testserver/webhooks/hubspot", WEBHOOK_SECRET)
    return client.post("/webhooks/hubspot", content=body, headers={**signed, **headers}).status_code


# -- access --------------------------------------------------------------------------------


def test_metrics_are_off_without_a_token_and_need_it_when_set(
    client: TestClient, metrics_client: TestClient
) -> None:
    off = client.get("/metrics", headers=AUTH)
    assert off.status_code == 404
    assert off.json()["error"]["code"] == "metrics_disabled"
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-wrong-token"},
        {"Authorization": TOKEN},
    ):
        refused = metrics_client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "# HELP" not in refused.text
    assert metrics_client.get("/metrics", headers=AUTH).status_code == 200


# -- the API's own metrics -------------------------------------------------------------------


def test_deliveries_events_rejections_and_login_failures_are_counted(
    metrics_client: TestClient,
) -> None:
    first = delivery_body([hubspot_event(), hubspot_event("company.creation", objectId=9001)])
    assert post(metrics_client, first) == 200
    assert post(metrics_client, first) == 200  # a redelivery: duplicates
    partly = [hubspot_event(objectId=7002), {**hubspot_event(objectId=7003), "portalId": None}]
    assert post(metrics_client, delivery_body(partly)) == 422
    bad = delivery_body([hubspot_event()])
    unsigned = metrics_client.post(
        "/webhooks/hubspot", content=bad, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    assert post(metrics_client, bad, **{"Content-Type": "text/plain"}) == 415
    for _ in range(2):
        login = metrics_client.post(
            "/api/auth/token", data={"username": "nobody@example.com", "password": "x" * 12}
        )
        assert login.status_code == 401

    m = scrape(metrics_client)
    deliveries = f"{P}webhook_deliveries_total"
    assert value(m, deliveries, outcome="stored") == 1
    assert value(m, deliveries, outcome="duplicate") == 1
    assert value(m, deliveries, outcome="partially_rejected") == 1
    assert value(m, deliveries, outcome="rejected") == 2
    assert value(m, deliveries, outcome="unavailable") == 0
    events = f"{P}webhook_events_total"
    assert value(m, events, outcome="stored") == 3
    assert value(m, events, outcome="duplicate") == 2
    assert value(m, events, outcome="rejected") == 1
    rejections = f"{P}webhook_rejections_total"
    assert value(m, rejections, reason="invalid_signature") == 1
    assert value(m, rejections, reason="unsupported_media_type") == 1
    assert value(m, f"{P}login_failures_total", reason="unknown_email") == 2
    assert value(m, f"{P}login_failures_total", reason="wrong_password") == 0


def test_request_latency_is_labelled_by_route_template_never_by_path(
    metrics_client: TestClient, api_users: ApiUsers
) -> None:
    viewer = api_users["viewer"]
    assert metrics_client.get("/api/runs/424242", headers=viewer).status_code == 404
    assert metrics_client.get("/api/runs/535353", headers=viewer).status_code == 404
    assert metrics_client.get("/no/such/page/616161").status_code == 404
    response = metrics_client.get("/metrics", headers=AUTH)
    assert "424242" not in response.text and "616161" not in response.text
    m = scrape(metrics_client)
    count = f"{P}http_request_duration_seconds_count"
    template = "/api/runs/{workflow_run_id}"
    assert value(m, count, method="GET", route=template, status="404") == 2
    assert value(m, count, method="GET", route="unmatched", status="404") == 1
    inf = value(
        m,
        f"{P}http_request_duration_seconds_bucket",
        method="GET",
        route=template,
        status="404",
        le="+Inf",
    )
    assert inf == 2


# -- the product's state and the Dagster side's figures, from Postgres ------------------------


def _run_with_event(
    db: Conn, workflow: str, status: str, *, waited: float, took: float | None
) -> int:
    """A run whose event arrived 1,000 s ago, started `waited` s later, finished `took` s
    after its event (None: not finished)."""
    envelope = add_envelope(db, "processed", age_seconds=1000)
    run = add_run(db, workflow, status)
    db.execute(
        "UPDATE orchestrator.workflow_runs r SET envelope_ids = ARRAY[%(e)s]::bigint[],"
        " outcome = CASE WHEN %(status)s = 'succeeded' THEN 'mirrored' END,"
        " started_at = e.received_at + make_interval(secs => %(waited)s),"
        " finished_at = e.received_at + make_interval(secs => %(took)s)"
        " FROM orchestrator.event_envelopes e WHERE e.id = %(e)s AND r.id = %(run)s",
        {"e": envelope, "run": run, "waited": waited, "took": took, "status": status},
    )
    return run


def _side_effect(db: Conn, target: str, status: str) -> None:
    db.execute(
        "INSERT INTO orchestrator.side_effects (thread_id, step, target, status)"
        " VALUES (gen_random_uuid()::text, 'step', %s, %s)",
        (target, status),
    )


def _vendor_calls(database_url: str) -> None:
    """Calls through a connector's `ResilientCaller` counted by the Dagster runtime's observer
    and flushed to Postgres: a 429 then a success, and a refused write."""
    with Database(database_url, max_connections=1, name="test-vendor-calls") as database:
        counts = VendorCallCounts(database)
        caller = ResilientCaller(
            vendor="airtable",
            policy=RetryPolicy(max_attempts=3, max_elapsed_seconds=10),
            classify=lambda exc, op, write: None,
            sleep=lambda seconds: None,
            observer=counts,
        )
        answers: list[Exception | None] = [
            RateLimitedError("429", vendor="airtable", operation="upsert", status=429),
            None,
        ]

        def flaky() -> str:
            answer = answers.pop(0)
            if answer is not None:
                raise answer
            return "ok"

        def refused() -> str:
            raise BadDataError("422", vendor="airtable", operation="upsert", status=422)

        assert caller.call("upsert", flaky) == "ok"
        with pytest.raises(BadDataError):
            caller.call("upsert", refused, write=True)
        assert counts.pending()[("airtable", "request")] == 3
        counts.close()  # the last flush, as at the end of a Dagster run
        assert counts.pending() == {}
        counts.record("airtable", "request")  # a second process's share adds up
        counts.flush()


def test_the_state_and_the_dagster_side_s_figures_come_from_postgres(
    metrics_client: TestClient, db: Conn, database_url: str
) -> None:
    add_envelope(db, "received", age_seconds=300)
    add_envelope(db, "received", age_seconds=30)
    add_envelope(db, "dispatched", age_seconds=100)
    add_envelope(db, "awaiting_approval", age_seconds=5000)
    add_run(db, "company_intake", "requested")
    add_run(db, "company_intake", "requested")
    add_run(db, "contact_role_mapping", "running")
    parked = add_run(db, "deal_kickoff", "awaiting_approval")
    add_approval(db, parked)
    overdue = add_approval(db, add_run(db, "deal_kickoff", "awaiting_approval"))
    db.execute(
        "UPDATE orchestrator.approvals SET due_at = now() - interval '1 hour' WHERE id = %s",
        (overdue,),
    )
    add_approval(db, add_run(db, "procurement_approval", "succeeded"), "approved")
    for kind, severity in (("bad_data", "warning"), ("bad_data", "warning"), ("x", "error")):
        new = NewException(kind=kind, severity=severity, message="m", key=str(os.urandom(4)))
        open_exception(db, new, run=None)
    db.execute("UPDATE orchestrator.exceptions SET status = 'resolved' WHERE kind = 'x'")
    _run_with_event(db, "company_intake", "succeeded", waited=3, took=50)
    _run_with_event(db, "company_intake", "succeeded", waited=20, took=700)
    _run_with_event(db, "company_intake", "failed", waited=40, took=90)
    _run_with_event(db, "company_intake", "running", waited=8, took=None)
    for target, status in (
        ("airtable:Accounts:1", "succeeded"),
        ("airtable:Accounts:2", "succeeded"),
        ("hubspot:companies:1", "failed"),
    ):
        _side_effect(db, target, status)
    _vendor_calls(database_url)

    m = scrape(metrics_client)
    assert value(m, f"{P}state_read_success", part="state") == 1
    assert value(m, f"{P}state_read_success", part="history") == 1
    envelopes = f"{P}queue_envelopes"
    assert value(m, envelopes, status="received") == 2
    assert value(m, envelopes, status="dispatched") == 1
    assert value(m, envelopes, status="awaiting_approval") == 1
    oldest = value(m, f"{P}queue_oldest_event_age_seconds")
    assert oldest is not None and 300 <= oldest < 360
    runs = f"{P}queue_workflow_runs"
    assert value(m, runs, workflow="company_intake", status="requested") == 2
    assert value(m, runs, workflow="company_intake", status="running") == 1
    assert value(m, runs, workflow="contact_role_mapping", status="running") == 1
    assert value(m, runs, workflow="deal_kickoff", status="awaiting_approval") == 2
    assert value(m, f"{P}approvals_pending", workflow="deal_kickoff") == 2
    assert value(m, f"{P}approvals_overdue", workflow="deal_kickoff") == 1
    assert value(m, f"{P}approvals_pending", workflow="procurement_approval") is None
    assert value(m, f"{P}exceptions_open", kind="bad_data", severity="warning") == 2
    assert value(m, f"{P}exceptions_open", kind="x", severity="error") is None
    ledger = f"{P}ledger_entries"
    assert value(m, ledger, vendor="airtable", status="succeeded") == 2
    assert value(m, ledger, vendor="hubspot", status="failed") == 1

    finished = f"{P}workflow_runs_finished_total"
    assert (
        value(m, finished, workflow="company_intake", status="succeeded", outcome="mirrored") == 2
    )
    assert value(m, finished, workflow="company_intake", status="failed", outcome="none") == 1
    assert (
        value(m, finished, workflow="procurement_approval", status="succeeded", outcome="none") == 1
    )

    start = f"{P}event_to_run_start_seconds"
    assert value(m, f"{start}_bucket", workflow="company_intake", le="5.0") == 1
    assert value(m, f"{start}_bucket", workflow="company_intake", le="10.0") == 2
    assert value(m, f"{start}_bucket", workflow="company_intake", le="30.0") == 3
    assert value(m, f"{start}_bucket", workflow="company_intake", le="+Inf") == 4
    assert value(m, f"{start}_count", workflow="company_intake") == 4
    assert value(m, f"{start}_sum", workflow="company_intake") == pytest.approx(71, abs=0.01)
    finish = f"{P}event_to_run_finish_seconds"
    assert value(m, f"{finish}_bucket", workflow="company_intake", le="60.0") == 1
    assert value(m, f"{finish}_bucket", workflow="company_intake", le="120.0") == 2
    assert value(m, f"{finish}_bucket", workflow="company_intake", le="600.0") == 2
    assert value(m, f"{finish}_bucket", workflow="company_intake", le="1800.0") == 3
    assert value(m, f"{finish}_count", workflow="company_intake") == 3
    assert value(m, f"{finish}_sum", workflow="company_intake") == pytest.approx(840, abs=0.01)

    assert value(m, f"{P}vendor_requests_total", vendor="airtable") == 4
    assert value(m, f"{P}vendor_retries_total", vendor="airtable") == 1
    assert value(m, f"{P}vendor_rate_limited_total", vendor="airtable") == 1
    assert value(m, f"{P}vendor_errors_total", vendor="airtable", kind="permanent") == 1
    assert value(m, f"{P}vendor_errors_total", vendor="airtable", kind="transient") is None


def test_a_statement_over_its_budget_leaves_its_part_out(db: Conn, database_url: str) -> None:
    settings = make_settings(database_url, metrics_token=TOKEN, metrics_db_budget_ms=100)
    locker = psycopg.connect(database_url)
    try:
        # An exclusive lock the scrape's reads wait for, past their budget.
        locker.execute("LOCK TABLE orchestrator.metrics_history_totals IN ACCESS EXCLUSIVE MODE")
        with TestClient(create_app(settings, settings_url(settings))) as client:
            m = scrape(client)
    finally:
        locker.rollback()
        locker.close()
    assert value(m, f"{P}state_read_success", part="state") == 1
    assert value(m, f"{P}state_read_success", part="history") == 0
    assert f"{P}ledger_entries" not in m and f"{P}queue_envelopes" in m
    assert f"{P}webhook_deliveries" in m


def test_the_history_counts_follow_every_change_and_match_the_rows(
    metrics_client: TestClient, db: Conn
) -> None:
    """The history is kept as counts by triggers (migration 0017) and folded by each scrape:
    runs that move (a failed run retried, then succeeding), ledger entries that change status
    or go, changes between two scrapes; the figures stay those of the rows."""
    failed = _run_with_event(db, "company_intake", "failed", waited=3, took=50)
    _run_with_event(db, "deal_kickoff", "succeeded", waited=20, took=4000)
    _side_effect(db, "airtable:Accounts:1", "pending")
    _side_effect(db, "hubspot:notes:1", "succeeded")
    first = scrape(metrics_client)
    finished = f"{P}workflow_runs_finished_total"
    assert value(first, finished, workflow="company_intake", status="failed", outcome="none") == 1
    assert value(first, f"{P}ledger_entries", vendor="airtable", status="pending") == 1
    assert db.execute("SELECT count(*) FROM orchestrator.metrics_history_deltas").fetchone() == (0,)

    # Retried (same started_at), then it succeeds later; the pending write succeeds.
    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'running', finished_at = NULL"
        " WHERE id = %s",
        (failed,),
    )
    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'succeeded', outcome = 'mirrored',"
        " finished_at = finished_at + interval '10 minutes', steps = '{a}'"
        " WHERE id = %s",
        (failed,),
    )
    db.execute(
        "UPDATE orchestrator.workflow_runs SET status = 'succeeded', outcome = 'mirrored',"
        " finished_at = started_at + interval '700 seconds' WHERE id = %s",
        (failed,),
    )
    db.execute("UPDATE orchestrator.side_effects SET status = 'succeeded', attempts = 2")
    db.execute("DELETE FROM orchestrator.side_effects WHERE target = 'hubspot:notes:1'")
    second = scrape(metrics_client)
    assert value(second, finished, workflow="company_intake", status="failed", outcome="none") is (
        None
    )
    assert (
        value(second, finished, workflow="company_intake", status="succeeded", outcome="mirrored")
        == 1
    )
    assert value(second, f"{P}ledger_entries", vendor="airtable", status="pending") is None
    assert value(second, f"{P}ledger_entries", vendor="airtable", status="succeeded") == 1
    assert value(second, f"{P}ledger_entries", vendor="hubspot", status="succeeded") is None
    finish = f"{P}event_to_run_finish_seconds"
    assert value(second, f"{finish}_bucket", workflow="company_intake", le="600.0") == 0
    assert value(second, f"{finish}_bucket", workflow="company_intake", le="1800.0") == 1
    assert value(second, f"{finish}_sum", workflow="company_intake") == pytest.approx(703)
    assert value(second, f"{finish}_bucket", workflow="deal_kickoff", le="3600.0") == 0
    assert value(second, f"{finish}_bucket", workflow="deal_kickoff", le="14400.0") == 1
    start = f"{P}event_to_run_start_seconds"
    assert value(second, f"{start}_count", workflow="company_intake") == 1
    assert value(second, f"{start}_sum", workflow="company_intake") == pytest.approx(3)

    # The totals equal the contributions of the rows as they are now.
    recomputed = db.execute(
        "SELECT c.family, c.labels, c.bucket, count(*), sum(c.seconds)"
        " FROM orchestrator.workflow_runs r"
        " CROSS JOIN LATERAL orchestrator.metrics_run_contributions(r) c GROUP BY 1, 2, 3"
        " UNION ALL SELECT 'ledger', ARRAY[split_part(target, ':', 1), status], -1, count(*), 0"
        " FROM orchestrator.side_effects GROUP BY 2 ORDER BY 1, 2, 3"
    ).fetchall()
    kept = db.execute(
        "SELECT family, labels, bucket, n, seconds FROM orchestrator.metrics_history_totals"
        " WHERE n <> 0 ORDER BY 1, 2, 3"
    ).fetchall()
    assert [r[:4] for r in kept] == [r[:4] for r in recomputed]
    assert [r[4] for r in kept] == pytest.approx([r[4] for r in recomputed])


def test_the_migration_s_buckets_are_the_latency_buckets(db: Conn) -> None:
    bucket = "SELECT orchestrator.metrics_latency_bucket(%s)"
    for index, bound in enumerate(LATENCY_BUCKETS):
        assert db.execute(bucket, (bound,)).fetchone() == (index,)
        assert db.execute(bucket, (bound + 0.001,)).fetchone() == (index + 1,)
    assert db.execute(bucket, (0.0,)).fetchone() == (0,)


# -- several workers -------------------------------------------------------------------------


def test_several_workers_add_up_and_the_state_is_read_once(
    db: Conn, database_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    stale = directory / "counter_999999.db"
    stale.write_bytes(b"from an earlier server")
    server = start_live_server(
        env={
            "DATABASE_URL": database_url,
            "HUBSPOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "JWT_SECRET": JWT_SECRET,
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
        },
        log_path=tmp_path / "serve.log",
        workers=2,
    )
    try:
        assert not stale.exists()  # emptied at the start
        add_envelope(db, "dispatched", age_seconds=50)
        sent = 0
        lock = threading.Lock()

        def deliver() -> None:
            nonlocal sent
            body = delivery_body([hubspot_event()])
            headers = signed_headers(body, server.webhook_url, WEBHOOK_SECRET)
            with httpx.Client(timeout=10) as http:  # a new connection: any worker may take it
                assert (
                    http.post(server.webhook_url, content=body, headers=headers).status_code == 200
                )
            with lock:
                sent += 1

        # Until both workers have counted something (each writes its own file).
        for _ in range(20):
            threads = [threading.Thread(target=deliver) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            pids = {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}
            if len(pids) >= 2:
                break
        assert len(pids) >= 2, "one worker took every request"

        for _ in range(3):  # whichever worker answers, the same sums and one reading
            m = scrape(server.base_url)
            assert value(m, f"{P}webhook_deliveries_total", outcome="stored") == sent
            assert value(m, f"{P}webhook_events_total", outcome="stored") == sent
            webhook = {
                "method": "POST",
                "route": "/webhooks/hubspot",
                "status": "200",
            }
            assert value(m, f"{P}http_request_duration_seconds_count", **webhook) == sent
            assert value(m, f"{P}queue_envelopes", status="received") == sent
            assert value(m, f"{P}queue_envelopes", status="dispatched") == 1
    finally:
        assert server.stop() == 0
    assert directory.exists()  # the operator's directory is kept


# -- the ResilientCaller's observer knows vendors and events, nothing else ---------------------


def test_the_observer_is_told_of_requests_retries_and_failures() -> None:
    seen: list[tuple[str, str]] = []

    class Observer:
        def record(self, vendor: str, event: str) -> None:
            seen.append((vendor, event))

    caller = ResilientCaller(
        vendor="notion",
        policy=RetryPolicy(max_attempts=2, max_elapsed_seconds=10),
        classify=lambda exc, op, write: None,
        sleep=lambda seconds: None,
        observer=Observer(),
    )

    def always_429() -> None:
        raise RateLimitedError("429", vendor="notion", operation="read", status=429)

    with pytest.raises(RateLimitedError):
        caller.call("read", always_429)
    assert seen == [
        ("notion", "request"),
        ("notion", "rate_limited"),
        ("notion", "retry"),
        ("notion", "request"),
        ("notion", "rate_limited"),
    ]


# -- docs/operations.md's alert rules and dashboard -----------------------------------------


def _metric_names(text: str) -> set[str]:
    import re

    return set(re.findall(r"\b(hubspot_orchestrator_[a-z0-9_]+)", text))


def _exposed() -> set[str]:
    """Every sample name /metrics can expose: a scrape of an app's metrics with one of each
    counted and a state reading with one of each (no database)."""
    api = ApiMetrics()
    api.request_answered("GET", "/health", 200, 0.01)
    api.rejections.labels("invalid_signature").inc()
    one = LatencyHistogram(buckets=(1,) * len(LATENCY_BUCKETS), count=1, total_seconds=1.0)
    read = StateRead(
        state=StateReading(
            envelopes={"received": 1},
            oldest_unprocessed_age_seconds=1.0,
            runs={("w", "running"): 1},
            approvals_pending={"w": 1},
            approvals_overdue={"w": 1},
            open_exceptions={("k", "error"): 1},
            vendor_calls={("v", event): 1 for event in VENDOR_EVENTS},
        ),
        state_seconds=0.1,
        history=HistoryReading(
            runs_finished={("w", "succeeded", "o"): 1},
            ledger_entries={("v", "succeeded"): 1},
            to_start={"w": one},
            to_finish={"w": one},
        ),
        history_seconds=0.1,
    )
    text = api.scrape(StateCollector(read)).decode()
    names = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    # prometheus-client's own `_created` series (single process only) are not documented
    return {name for name in names if not name.endswith("_created")}


def test_the_alert_rules_and_the_dashboard_use_only_metrics_that_exist() -> None:
    exposed = _exposed()
    rules = yaml.safe_load((DOCS / "prometheus" / "alerts.yaml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert alerts and all({"alert", "expr", "labels", "annotations"} <= set(r) for r in alerts)
    used = set().union(*(_metric_names(rule["expr"]) for rule in alerts))
    assert used and used <= exposed, used - exposed
    dashboard = json.loads((DOCS / "grafana" / "hubspot-orchestrator.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert exprs
    used = set().union(*(_metric_names(expr) for expr in exprs))
    assert used <= exposed, used - exposed
    # The operations guide lists every metric, and the files.
    guide = (DOCS / "operations.md").read_text()
    documented = {name.removesuffix("_total") for name in _metric_names(guide)}
    families = {n.removesuffix("_total").removesuffix("_bucket") for n in exposed}
    families = {n.removesuffix("_count").removesuffix("_sum") for n in families}
    assert families <= documented, families - documented
