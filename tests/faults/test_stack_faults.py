"""Faults on the real stack (`orchestrator dev`: Postgres, the sandbox, the API, Dagster's
webserver and daemon), one stack for the module:

- kill -9 of a run worker in the middle of a workflow, alone and with its code server (the
  watchdog notices the silent worker), and in the middle of a batch;
- kill -9 of the Dagster daemon in the middle of a workflow, with an event arriving while it is
  down (`orchestrator dev` starts it again);
- vendor outages through the sandbox's fault injection: a 429 storm from HubSpot, Airtable
  answering 5xx to everything for two minutes, and a Notion write answered after the client's
  timeout.

Every workflow finishes, and nothing is written twice: checked against the sandbox's request
log (the writes of an undisturbed run) and its state (one Accounts record and one live SOP page
per company), not only the ledger.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator_cli.dev_credentials import DEV_ADMIN_EMAIL
from tests.support import (
    DevStack,
    delivery_body,
    eventually,
    hubspot_event,
    signed_headers,
    start_dev_stack,
)

SECRET = "stack-fault-secret"
SILENT_AFTER_SECONDS = 15
READ_TIMEOUT_SECONDS = 5
RETRY_BASE_SECONDS = 20  # 20, 40, 80 s: two minutes of outage are waited out
OUTAGE_SECONDS = 120
STORM_SECONDS = 30
WAIT = 240.0
METRICS_TOKEN = "stack-fault-metrics-token"


@pytest.fixture(scope="module")
def stack(module_orchestrator_home: Path) -> Iterator[DevStack]:
    running = start_dev_stack(
        module_orchestrator_home,
        secret=SECRET,
        extra_env={
            "RUN_SILENT_AFTER_SECONDS": str(SILENT_AFTER_SECONDS),
            "RUN_HEARTBEAT_SECONDS": "2",
            "CONNECTOR_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT_SECONDS),
            "RUN_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
            "METRICS_TOKEN": METRICS_TOKEN,
        },
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def api(stack: DevStack) -> Iterator[httpx.Client]:
    token = httpx.post(
        f"{stack.api_url}/api/auth/token",
        data={"username": DEV_ADMIN_EMAIL, "password": stack.admin_password},
    ).json()["access_token"]
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    ) as client:
        yield client


@pytest.fixture(scope="module")
def undisturbed(stack: DevStack, api: httpx.Client) -> Counter[tuple[str, str, str]]:
    """The vendor writes of an undisturbed company intake."""
    httpx.delete(f"{stack.sandbox_url}/_sandbox/requests")
    post_companies_created(stack, 9004)
    run = eventually(lambda: finished(api, 9004), WAIT, what="the undisturbed run")
    assert run["status"] == "succeeded", run
    made = writes(stack)
    assert made, "the workflow made no vendor write"
    return made


@pytest.fixture(autouse=True)
def no_faults_after(stack: DevStack) -> Iterator[None]:
    yield
    set_faults(stack, hubspot=None, airtable=None, notion=None)


# --- the stack and the sandbox --------------------------------------------------------------


def set_faults(stack: DevStack, **faults: dict[str, Any] | None) -> None:
    """Set each named vendor's fault shares (None: no faults)."""
    config = httpx.get(f"{stack.sandbox_url}/_sandbox/config").json()
    for vendor, shares in faults.items():
        config[vendor]["faults"] = shares
    assert httpx.put(f"{stack.sandbox_url}/_sandbox/config", json=config).status_code == 200


def requests_log(stack: DevStack) -> list[dict[str, Any]]:
    log = httpx.get(f"{stack.sandbox_url}/_sandbox/requests", params={"limit": 10_000}).json()
    return list(log["requests"] if isinstance(log, dict) else log)


def writes(stack: DevStack) -> Counter[tuple[str, str, str]]:
    """The vendor writes served, in the sandbox's log: (vendor, method, path with ids as {id})."""
    return Counter(
        (row["vendor"], row["method"], re.sub(r"[0-9a-fA-F-]{6,}|\d+", "{id}", row["path"]))
        for row in requests_log(stack)
        if row["method"] != "GET"
        and row.get("outcome") in ("ok", "slow", None)
        and not row["path"].endswith("/search")
    )


def faults_served(stack: DevStack) -> Counter[tuple[str, str]]:
    """(vendor, outcome) of the requests the sandbox failed on purpose."""
    return Counter(
        (row["vendor"], row["outcome"])
        for row in requests_log(stack)
        if str(row.get("outcome", "")).startswith("fault") or row.get("outcome") == "slow"
    )


def scrape_vendor_calls(stack: DevStack) -> Counter[tuple[str, str, str]]:
    """The vendor call counters of /metrics: (metric, vendor, kind) → total."""
    response = httpx.get(
        f"{stack.api_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    totals: Counter[tuple[str, str, str]] = Counter()
    for family in text_string_to_metric_families(response.text):
        if family.name.startswith("hubspot_orchestrator_vendor_"):
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                name = family.name.removeprefix("hubspot_orchestrator_")
                key = (name, sample.labels["vendor"], sample.labels.get("kind", ""))
                totals[key] += int(sample.value)
    return totals


def post_companies_created(stack: DevStack, *companies: int) -> None:
    body = delivery_body([hubspot_event("company.creation", objectId=c) for c in companies])
    url = f"{stack.api_url}/webhooks/hubspot"
    response = httpx.post(url, content=body, headers=signed_headers(body, url, SECRET), timeout=15)
    assert response.status_code == 200, response.text


def run_of(api: httpx.Client, company: int) -> dict[str, Any] | None:
    items = api.get(
        "/api/runs", params={"workflow": "company_intake", "object_id": company}
    ).json()["items"]
    return items[0] if items else None


def finished(api: httpx.Client, company: int) -> dict[str, Any] | None:
    run = run_of(api, company)
    return run if run and run["status"] in ("succeeded", "failed") else None


def details(api: httpx.Client, companies: list[int]) -> list[dict[str, Any]]:
    """What a failing assertion shows of the companies' runs: status, error, attempts."""
    found = []
    for company in companies:
        run = run_of(api, company)
        if run is not None:
            detail = api.get(f"/api/runs/{run['id']}").json()
            found.append({k: detail[k] for k in ("status", "error", "attempts", "exceptions")})
    return found


def all_finished(api: httpx.Client, companies: list[int]) -> list[dict[str, Any]] | None:
    runs = [finished(api, company) for company in companies]
    return [run for run in runs if run] if all(runs) else None


def below(stack: DevStack) -> list[psutil.Process]:
    try:
        return psutil.Process(stack.process.pid).children(recursive=True)
    except psutil.Error:
        return []


def command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def run_workers(stack: DevStack, *, started_after: float) -> list[psutil.Process]:
    """Dagster run workers started after `started_after` (epoch seconds) and still running:
    multiprocessing children of a code server, below the stack. An earlier run's worker can
    still be exiting after its workflow has finished, so it is told apart by its start."""
    found = []
    for process in below(stack):
        try:
            if (
                process.create_time() >= started_after
                and process.status() != psutil.STATUS_ZOMBIE
                and "multiprocessing.spawn" in command(process)
                and "api grpc" in command(process.parent())
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def the_daemon(stack: DevStack) -> psutil.Process:
    (daemon,) = [
        p
        for p in psutil.Process(stack.process.pid).children()
        if "dagster-daemon" in command(p) and p.status() != psutil.STATUS_ZOMBIE
    ]
    return daemon


# --- what a finished workflow left in the vendors -------------------------------------------


def sandbox_get(stack: DevStack, path: str) -> Any:
    response = httpx.get(f"{stack.sandbox_url}/_sandbox/{path}", timeout=15)
    response.raise_for_status()
    return response.json()


def title(page: dict[str, Any]) -> str:
    return "".join(part["plain_text"] for part in page["properties"]["title"]["title"])


def assert_done_once(stack: DevStack, api: httpx.Client, companies: list[int]) -> None:
    """Each company's intake succeeded with no exception, and left exactly one Accounts record
    and one live SOP page (a half-copied page of a killed attempt may lie in the trash)."""
    (accounts,) = [t for t in sandbox_get(stack, "airtable")["tables"] if t["table"] == "Accounts"]
    records = sandbox_get(stack, f"airtable/{accounts['base']}/Accounts")["records"]
    pages = sandbox_get(stack, "notion/pages")["pages"]
    for company in companies:
        run = finished(api, company)
        assert run is not None and run["status"] == "succeeded", run
        assert run["outcome"] == "mirrored", run
        detail = api.get(f"/api/runs/{run['id']}").json()
        assert [e for e in detail["exceptions"] if e["kind"] != "data_quality"] == [], detail
        (record,) = [r for r in records if str(r["fields"].get("HubSpot ID")) == str(company)]
        page_id = record["fields"]["SOP page ID"]
        (page,) = [p for p in pages if p["id"] == page_id]
        live = [p["id"] for p in pages if title(p) == title(page) and not p["in_trash"]]
        assert live == [page_id], (company, live)


# --- run workers ----------------------------------------------------------------------------


def kill_mid_run(
    stack: DevStack, api: httpx.Client, company: int, *, with_code_server: bool
) -> tuple[dict[str, Any], float, Counter[tuple[str, str, str]]]:
    """A company_intake run for `company`, its worker killed after its first vendor write
    (with the code server that started it, when asked): the run once finished, how long after
    the kill, and the vendor writes made meanwhile."""
    httpx.delete(f"{stack.sandbox_url}/_sandbox/requests")
    posted_at = time.time()
    post_companies_created(stack, company)
    eventually(lambda: sum(writes(stack).values()) >= 1, WAIT, what="a first write of the run")
    # Its worker, and any other run's that started meanwhile (a scheduled job: approval
    # deadlines run every 5 minutes), which Dagster retries as well.
    workers = eventually(
        lambda: run_workers(stack, started_after=posted_at), WAIT, what="its run worker"
    )
    code_servers = {worker.parent() for worker in workers} if with_code_server else set()
    doomed = [*workers, *code_servers]
    killed_at = time.monotonic()
    for process in doomed:
        process.kill()  # kill -9: no cleanup, no ledger update, no run event
    done = eventually(lambda: finished(api, company), WAIT, what="the run to finish after the kill")
    return done, time.monotonic() - killed_at, writes(stack)


def test_a_run_worker_killed_mid_workflow_is_retried_and_repeats_no_write(
    stack: DevStack, api: httpx.Client, undisturbed: Counter[tuple[str, str, str]]
) -> None:
    # Slow Notion answers stretch the runs, so the kills land between their writes.
    set_faults(stack, notion={"slow_share": 1.0, "slow_seconds": 1.5})
    figures = []
    for company, with_code_server in ((9005, False), (9006, True)):
        done, took, made = kill_mid_run(stack, api, company, with_code_server=with_code_server)
        assert done["status"] == "succeeded", done
        attempts = api.get(f"/api/runs/{done['id']}").json()["attempts"]
        # The killed Dagster run and the retry that finished the workflow.
        assert len(attempts) >= 2, attempts
        assert made == undisturbed  # each write once, as in the undisturbed run
        if with_code_server:
            # Nothing was left to see the worker die: the watchdog noticed its silence.
            assert took >= SILENT_AFTER_SECONDS, took
            assert any("no heartbeat" in (a["error"] or "") for a in attempts), attempts
        figures.append(
            f"{'worker and code server' if with_code_server else 'worker'} killed:"
            f" finished {took:.0f} s later over {len(attempts)} Dagster runs"
        )
    assert_done_once(stack, api, [9005, 9006])
    print("; ".join(figures) + "; vendor writes identical to an undisturbed run")


def test_a_batch_whose_worker_is_killed_finishes_every_member_once(
    stack: DevStack, api: httpx.Client, undisturbed: Counter[tuple[str, str, str]]
) -> None:
    companies = list(range(9011, 9017))
    set_faults(stack, notion={"slow_share": 1.0, "slow_seconds": 1.5})
    httpx.delete(f"{stack.sandbox_url}/_sandbox/requests")
    posted_at = time.time()
    post_companies_created(stack, *companies)  # one delivery: due at once, so one batch

    def some_pages_made() -> bool:
        made = writes(stack)
        return 0 < made[("notion", "POST", "/notion/v{id}/pages")] < len(companies)

    eventually(some_pages_made, WAIT, what="a first SOP page of the batch")
    workers = run_workers(stack, started_after=posted_at)  # the batch's, and any other's
    assert workers
    for worker in workers:
        worker.kill()
    killed_at = time.monotonic()
    runs = eventually(lambda: all_finished(api, companies), WAIT, what="every member to finish")
    took = time.monotonic() - killed_at

    assert_done_once(stack, api, companies)
    attempts = [api.get(f"/api/runs/{run['id']}").json()["attempts"] for run in runs]
    # The six were one batch: its first Dagster run started them all ...
    assert len({tried[0]["dagster_run_id"] for tried in attempts}) == 1, attempts
    # ... and its retry finished those the kill interrupted.
    resumed = [tried for tried in attempts if len(tried) >= 2]
    assert resumed, attempts
    # Each company's writes at most as often as in an undisturbed run: the Airtable upserts of
    # several members may share a request; Notion's page writes are one company's each.
    made = writes(stack)
    for write, count in undisturbed.items():
        if write[0] == "notion":
            assert made[write] <= count * len(companies), (write, made[write])
    print(
        f"batch of {len(companies)}, worker killed: {len(resumed)} members resumed by its retry,"
        f" every member finished {took:.0f} s after the kill"
    )


# --- the daemon -----------------------------------------------------------------------------


def test_the_daemon_killed_mid_workflow_is_started_again_and_nothing_is_lost(
    stack: DevStack, api: httpx.Client, undisturbed: Counter[tuple[str, str, str]]
) -> None:
    set_faults(stack, notion={"slow_share": 1.0, "slow_seconds": 1.5})
    httpx.delete(f"{stack.sandbox_url}/_sandbox/requests")
    post_companies_created(stack, 9007)
    eventually(lambda: sum(writes(stack).values()) >= 1, WAIT, what="a first write of the run")
    daemon = the_daemon(stack)
    daemon.kill()
    killed_at = time.monotonic()
    post_companies_created(stack, 9008)  # arrives while the daemon is down
    eventually(
        lambda: any("dagster-daemon exited with status -9" in line for line in stack.output),
        30.0,
        what="orchestrator dev to notice the daemon's death",
    )
    runs = eventually(lambda: all_finished(api, [9007, 9008]), WAIT, what="both runs to finish")
    took = time.monotonic() - killed_at

    assert_done_once(stack, api, [9007, 9008])
    assert the_daemon(stack).pid != daemon.pid
    # The event that came while the daemon was down was launched once, once it was back.
    late = api.get(f"/api/runs/{runs[1]['id']}").json()["attempts"]
    assert len(late) == 1, late
    # Both runs' writes, each once: twice the writes of an undisturbed run.
    assert writes(stack) == Counter({write: 2 * n for write, n in undisturbed.items()})
    print(f"daemon killed: both runs finished {took:.0f} s later")


# --- vendor outages -------------------------------------------------------------------------


def test_a_429_storm_and_two_minutes_of_5xx_are_waited_out_without_a_duplicate(
    stack: DevStack, api: httpx.Client, undisturbed: Counter[tuple[str, str, str]]
) -> None:
    companies = [9017, 9018]
    httpx.delete(f"{stack.sandbox_url}/_sandbox/requests")
    set_faults(stack, hubspot={"error_429_share": 1.0}, airtable={"error_500_share": 1.0})
    started = time.monotonic()
    post_companies_created(stack, *companies)
    time.sleep(STORM_SECONDS)
    set_faults(stack, hubspot=None)
    assert finished(api, 9017) is None and finished(api, 9018) is None, details(api, companies)
    time.sleep(OUTAGE_SECONDS - STORM_SECONDS)
    set_faults(stack, airtable=None)
    assert finished(api, 9017) is None and finished(api, 9018) is None, details(api, companies)
    eventually(lambda: all_finished(api, companies), WAIT, what="both runs after the outage")
    took = time.monotonic() - started

    assert_done_once(stack, api, companies)
    faults = faults_served(stack)
    assert faults[("hubspot", "fault_429")] > 0 and faults[("airtable", "fault_500")] > 0, faults
    made = writes(stack)
    for write, count in undisturbed.items():
        if write[0] != "airtable":  # the two runs' upserts may share a request
            assert made[write] == 2 * count, (write, made[write])
    # The run workers' connectors counted what they met, and /metrics shows it.
    vendor = scrape_vendor_calls(stack)
    assert vendor[("vendor_rate_limited", "hubspot", "")] >= 1, vendor
    assert vendor[("vendor_errors", "airtable", "transient")] >= 1, vendor
    print(
        f"429s from HubSpot for {STORM_SECONDS} s and 5xx from Airtable for {OUTAGE_SECONDS} s"
        f" ({faults[('hubspot', 'fault_429')]} and {faults[('airtable', 'fault_500')]}"
        f" answers): both runs finished {took:.0f} s after the outage began"
    )


def test_a_write_answered_after_the_client_timeout_is_not_made_twice(
    stack: DevStack, api: httpx.Client, undisturbed: Counter[tuple[str, str, str]]
) -> None:
    httpx.delete(f"{stack.sandbox_url}/_sandbox/requests")
    # The SOP page's creation lands, but its answer comes after the client gave up.
    slow = READ_TIMEOUT_SECONDS + 3
    set_faults(
        stack,
        notion={
            "slow_share": 1.0,
            "slow_seconds": slow,
            "path_contains": "/v1/pages",
            "method": "POST",
            "max_faults": 1,
        },
    )
    posted_at = datetime.now(UTC).isoformat()
    post_companies_created(stack, 9019)
    run = eventually(lambda: finished(api, 9019), WAIT, what="the run")

    assert run["status"] == "succeeded", run
    assert faults_served(stack)[("notion", "slow")] == 1
    assert_done_once(stack, api, [9019])
    # The page the client never heard about was found by its key and adopted: the only POST
    # is the one that timed out, as many as an undisturbed run makes.
    pages_posted = ("notion", "POST", "/notion/v{id}/pages")
    assert writes(stack)[pages_posted] == undisturbed[pages_posted] == 1
    adopted = api.get(
        "/api/audit", params={"action": "side_effect.adopted", "occurred_from": posted_at}
    ).json()["items"]
    assert [a["after"]["step"] for a in adopted] == ["attach_sop"], adopted
    print(
        f"a Notion page created after the client's {READ_TIMEOUT_SECONDS} s timeout:"
        " found by its key on the retry and adopted, not created again"
    )


# --- logs -----------------------------------------------------------------------------------


def log_lines_naming(stack: DevStack, text: str) -> dict[str, list[dict[str, Any]]]:
    """The JSON lines of each service's log (`api`, `dagster-daemon`, ...) that contain `text`."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((stack.home / "logs").glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if text not in line or not line.startswith("{"):
                continue  # Dagster's own lines are not JSON
            try:
                found.setdefault(path.stem, []).append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def test_one_grep_for_a_correlation_id_follows_the_event_across_processes(
    stack: DevStack, api: httpx.Client
) -> None:
    company = 9021
    post_companies_created(stack, company)
    run = eventually(lambda: finished(api, company), WAIT, what="the run")
    assert run["status"] == "succeeded", run
    detail = api.get(f"/api/runs/{run['id']}").json()
    correlation_id = detail["correlation_id"]
    assert correlation_id
    dagster_run_ids = {attempt["dagster_run_id"] for attempt in detail["attempts"]}
    worker_events = {"workflow attempt started", "workflow step done", "workflow finished"}

    def journey() -> dict[str, list[dict[str, Any]]] | None:
        found = log_lines_naming(stack, correlation_id)
        api_events = {line["event"] for line in found.get("api", [])}
        dagster_events = {line["event"] for line in found.get("dagster-daemon", [])}
        # The run detail's access line is written after its answer: wait for it too.
        if {"delivery stored", "request"} <= api_events and {
            "run requested",
            *worker_events,
        } <= dagster_events:
            return found
        return None

    found = eventually(journey, 60.0, what="the event's lines in api.log and dagster-daemon.log")

    # Received: the API's lines name the request and the correlation id.
    api_lines = found["api"]
    (stored,) = [line for line in api_lines if line["event"] == "delivery stored"]
    assert correlation_id in stored["correlation_ids"] and stored["request_id"], stored
    paths = {line["path"] for line in api_lines if line["event"] == "request"}
    assert {"/webhooks/hubspot", f"/api/runs/{run['id']}"} <= paths, api_lines
    # Launched: the event sensor, in the daemon's code server.
    daemon_lines = found["dagster-daemon"]
    requested = [line for line in daemon_lines if line["event"] == "run requested"]
    assert requested and {line["workflow_run_id"] for line in requested} == {run["id"]}, requested
    # Driven, step by step, finished: the run worker (a child of the daemon's code server).
    worker = [line for line in daemon_lines if line.get("logger", "").startswith("orchestrator_")]
    assert worker_events <= {line["event"] for line in worker}, worker
    for line in worker:
        assert line["workflow_run_id"] == run["id"], line
        assert line["dagster_run_id"] in dagster_run_ids, line
        assert line["workflow"] == "company_intake", line
        assert line["envelope_ids"] == detail["envelope_ids"], line
    steps = {line["step"] for line in worker if line["event"] == "workflow step done"}
    assert steps == set(detail["steps"]), (steps, detail["steps"])

    # No secret in any service's log: the webhook secret, the admin's password, a token.
    token = str(api.headers["Authorization"]).removeprefix("Bearer ")
    for path in (stack.home / "logs").glob("*.log"):
        text = path.read_text(errors="replace")
        for secret in (SECRET, stack.admin_password, token, METRICS_TOKEN):
            assert secret not in text, f"a secret in {path.name}"
    print(
        f"correlation id {correlation_id}: {len(api_lines)} API lines,"
        f" {len(daemon_lines)} lines of the daemon's code server and the run worker"
    )
