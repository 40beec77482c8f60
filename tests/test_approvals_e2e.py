"""Approvals end to end on the running product (`orchestrator dev`: the daemon's sensors, the run
queue, the API): deals park at approvals; the dev admin logs in and creates an operator, who
logs in and approves the kickoff through the API, and the workflow resumes behind the gate and
writes one calendar event; the admin rejects the procurement request and the workflow closes
without a purchase order."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator_cli.dev_credentials import DEV_ADMIN_EMAIL
from tests.support import (
    TEST_PASSWORD,
    DevStack,
    eventually,
    log_in,
    signed_headers,
    start_dev_stack,
)

SECRET = "e2e-client-secret"
SAMPLE = (
    Path(__file__).resolve().parents[1] / "samples" / "webhooks" / "03-deal-stage-and-amount.json"
)
OPERATOR_EMAIL = "olivia@harborlabs.example"


@pytest.fixture
def stack(orchestrator_home: Path) -> Iterator[DevStack]:
    running = start_dev_stack(orchestrator_home, secret=SECRET)
    try:
        yield running
    finally:
        running.stop()


def _eventually(check: Callable[[], Any], timeout: float = 120.0) -> Any:
    return eventually(check, timeout)


def test_decisions_resume_parked_workflows_through_the_gate(stack: DevStack) -> None:
    admin = log_in(stack.api_url, DEV_ADMIN_EMAIL, stack.admin_password)
    api = httpx.Client(base_url=stack.api_url, timeout=15.0)
    created = api.post(
        "/api/users",
        json={"email": OPERATOR_EMAIL, "role": "operator", "password": TEST_PASSWORD},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    operator = log_in(stack.api_url, OPERATOR_EMAIL, TEST_PASSWORD)
    api.headers.update(operator)
    body = SAMPLE.read_bytes()
    url = f"{stack.api_url}/webhooks/hubspot"
    assert api.post("/webhooks/hubspot", content=body, headers=signed_headers(body, url, SECRET))
    pending = _eventually(
        lambda: (
            (items := api.get("/api/approvals/pending").json()["items"])
            and len(items) == 4
            and items
        )
    )
    kickoff = next(a for a in pending if a["kind"] == "kickoff" and a["object_id"] == 5001)
    procurement = next(a for a in pending if a["kind"] == "procurement" and a["object_id"] == 5002)

    # An operator may not decide a purchase order; an admin may.
    refused = api.patch(
        f"/api/approvals/{procurement['id']}/decision",
        json={"decision": "reject"},
    )
    assert refused.status_code == 403, refused.text
    decided_at = time.monotonic()
    approved = api.patch(
        f"/api/approvals/{kickoff['id']}/decision",
        json={"decision": "approve", "note": "go", "edits": {"slot_index": 1}},
    )
    assert approved.status_code == 200, approved.text
    rejected = api.patch(
        f"/api/approvals/{procurement['id']}/decision",
        json={"decision": "reject", "note": "budget frozen"},
        headers=admin,
    )
    assert rejected.status_code == 200, rejected.text
    assert (approved.json()["decided_by"], rejected.json()["decided_by"]) == (
        f"user:{OPERATOR_EMAIL}",
        f"user:{DEV_ADMIN_EMAIL}",
    )

    def finished(approval_id: int) -> dict[str, Any] | None:
        detail: dict[str, Any] = api.get(f"/api/approvals/{approval_id}").json()
        return detail if detail["workflow_run"]["status"] == "succeeded" else None

    done = _eventually(lambda: finished(kickoff["id"]))
    resumed_after = time.monotonic() - decided_at
    assert done["workflow_run"]["outcome"] == "kickoff_scheduled"
    assert done["continuation_run"]["status"] == "succeeded"
    assert done["continuation_run"]["dagster_url"].endswith(
        done["continuation_run"]["dagster_run_id"]
    )
    closed = _eventually(lambda: finished(procurement["id"]))
    assert closed["workflow_run"]["outcome"] == "rejected"

    sandbox = httpx.Client(base_url=stack.sandbox_url, timeout=15.0)
    events = sandbox.get("/_sandbox/google/events").json()["events"]
    assert len(events) == 1
    assert events[0]["event"]["start"]["dateTime"] == kickoff["proposal"]["slots"][1]["start"]
    orders = sandbox.get("/_sandbox/airtable/appOrchestratorOps/Purchase Orders")
    assert orders.status_code == 404 or orders.json()["records"] == []
    # Generous bound for a loaded CI machine; bench/approvals.py measures the real figure.
    assert resumed_after < 90
