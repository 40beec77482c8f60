"""kill -9 of a Dagster run worker in the middle of a workflow, on the real stack (`orchestrator
dev`: Postgres, the sandbox, the API, Dagster's webserver and daemon): the watchdog notices the
silent worker, Dagster runs it again, the workflow resumes from its checkpoint and finishes,
and no vendor write is repeated. Checked against the sandbox's request log, not only the
ledger: the killed run's writes are exactly those of an undisturbed run of the same workflow."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil

from orchestrator_cli.dev_credentials import DEV_ADMIN_EMAIL
from tests.support import (
    DevStack,
    delivery_body,
    eventually,
    hubspot_event,
    signed_headers,
    start_dev_stack,
)

SECRET = "run-worker-fault-secret"
SILENT_AFTER_SECONDS = 15


def writes(stack: DevStack) -> Counter[tuple[str, str, str]]:
    """The vendor writes in the sandbox's log: (vendor, method, path with ids as {id})."""
    log = httpx.get(f"{stack.sandbox_url}/_sandbox/requests", params={"limit": 10_000}).json()
    rows = log["requests"] if isinstance(log, dict) else log
    return Counter(
        (row["vendor"], row["method"], re.sub(r"[0-9a-fA-F-]{6,}|\d+", "{id}", row["path"]))
        for row in rows
        if row["method"] != "GET"
        and row.get("outcome") in ("ok", "slow", None)
        and not row["path"].endswith("/search")
    )


def run_of(api: httpx.Client, company: int) -> dict[str, Any] | None:
    items = api.get(
        "/api/runs", params={"workflow": "company_intake", "object_id": company}
    ).json()["items"]
    return items[0] if items else None


def finished(api: httpx.Client, company: int) -> dict[str, Any] | None:
    run = run_of(api, company)
    return run if run and run["status"] in ("succeeded", "failed") else None


def post_company_created(stack: DevStack, company: int) -> None:
    body = delivery_body([hubspot_event("company.creation", objectId=company)])
    url = f"{stack.api_url}/webhooks/hubspot"
    response = httpx.post(url, content=body, headers=signed_headers(body, url, SECRET), timeout=15)
    assert response.status_code == 200, response.text


def run_workers(stack: DevStack, *, started_after: float) -> list[psutil.Process]:
    """Dagster run workers started after `started_after` (epoch seconds) and still running:
    multiprocessing children of a code server, below the stack. An earlier run's worker can
    still be exiting after its workflow has finished, so it is told apart by its start."""
    found = []
    for process in psutil.Process(stack.process.pid).children(recursive=True):
        try:
            if (
                process.create_time() >= started_after
                and process.status() != psutil.STATUS_ZOMBIE
                and "multiprocessing.spawn" in " ".join(process.cmdline())
                and "api grpc" in " ".join(process.parent().cmdline())
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def kill_mid_run(
    stack: DevStack, api: httpx.Client, company: int, *, with_code_server: bool
) -> tuple[dict[str, Any], float, Counter[tuple[str, str, str]]]:
    """A company_intake run for `company`, its worker killed after its first vendor write
    (with the code server that started it, when asked): the run once finished, how long after
    the kill, and the vendor writes made meanwhile."""
    httpx.delete(f"{stack.sandbox_url}/_sandbox/requests")
    posted_at = time.time()
    post_company_created(stack, company)
    eventually(lambda: sum(writes(stack).values()) >= 1, 240.0, what="a first write of the run")
    (worker,) = eventually(
        lambda: run_workers(stack, started_after=posted_at), 240.0, what="its run worker"
    )
    doomed = [worker, worker.parent()] if with_code_server else [worker]
    killed_at = time.monotonic()
    for process in doomed:
        process.kill()  # kill -9: no cleanup, no ledger update, no run event
    done = eventually(
        lambda: finished(api, company), 240.0, what="the run to finish after the kill"
    )
    return done, time.monotonic() - killed_at, writes(stack)


def test_a_run_worker_killed_mid_workflow_is_retried_and_repeats_no_write(
    orchestrator_home: Path,
) -> None:
    stack = start_dev_stack(
        orchestrator_home,
        secret=SECRET,
        extra_env={
            "RUN_SILENT_AFTER_SECONDS": str(SILENT_AFTER_SECONDS),
            "RUN_HEARTBEAT_SECONDS": "2",
        },
    )
    try:
        token = httpx.post(
            f"{stack.api_url}/api/auth/token",
            data={"username": DEV_ADMIN_EMAIL, "password": stack.admin_password},
        ).json()["access_token"]
        api = httpx.Client(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=15
        )
        # An undisturbed run of the workflow, for the writes it makes.
        post_company_created(stack, 9004)
        baseline = eventually(lambda: finished(api, 9004), 240.0, what="the undisturbed run")
        assert baseline["status"] == "succeeded", baseline
        expected = writes(stack)
        assert expected, "the workflow made no vendor write"
        # Slow Notion answers stretch the runs, so the kills land between their writes.
        config = httpx.get(f"{stack.sandbox_url}/_sandbox/config").json()
        config["notion"]["faults"] = {"slow_share": 1.0, "slow_seconds": 1.5}
        assert httpx.put(f"{stack.sandbox_url}/_sandbox/config", json=config).status_code == 200

        figures = []
        for company, with_code_server in ((9005, False), (9006, True)):
            done, took, made = kill_mid_run(stack, api, company, with_code_server=with_code_server)
            assert done["status"] == "succeeded", done
            attempts = api.get(f"/api/runs/{done['id']}").json()["attempts"]
            # The killed Dagster run and the retry that finished the workflow.
            assert len(attempts) >= 2, attempts
            assert made == expected  # each write once, as in the undisturbed run
            if with_code_server:
                # Nothing was left to see the worker die: the watchdog noticed its silence.
                assert took >= SILENT_AFTER_SECONDS, took
                assert any("no heartbeat" in (a["error"] or "") for a in attempts), attempts
            figures.append(
                f"{'worker and code server' if with_code_server else 'worker'} killed:"
                f" finished {took:.0f} s later over {len(attempts)} Dagster runs"
            )
        print("; ".join(figures) + "; vendor writes identical to an undisturbed run")
    finally:
        stack.stop()
