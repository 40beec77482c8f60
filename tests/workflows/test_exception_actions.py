"""One-click fixes on exceptions through the API, with the fixing runs driven like the Dagster
op drives them: each action on each kind, its effect in the sandbox, its audit rows, repeats
and conflicts, and who may act."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from orchestrator_core.records.exceptions import NewException, open_exception
from orchestrator_defs.runtime.runner import WorkflowFailed
from resources.hubspot import HubSpotConnector
from tests.conftest import JWT_SECRET
from tests.support import signed_in
from tests.vendor_sandbox import BASE_ID, hubspot_for, sandbox_config
from tests.workflows.conftest import WorkflowHarness, event

OPERATOR = "olive@harborlabs.example"
ADMIN = "ada@harborlabs.example"


@pytest.fixture
def api(client: TestClient, db: psycopg.Connection[Any]) -> TestClient:
    client.headers.update(signed_in(db, OPERATOR, "operator", secret=JWT_SECRET))
    return client


@pytest.fixture
def hubspot(harness: WorkflowHarness) -> Iterator[HubSpotConnector]:
    connector = hubspot_for(harness.sandbox)
    yield connector
    connector.close()


def _drive_launched(harness: WorkflowHarness) -> list[int]:
    specs = harness.dispatch()
    for spec in specs:
        harness.drive(spec.workflow_run_id)
    return [spec.workflow_run_id for spec in specs]


def _exception(db: psycopg.Connection[Any], exception_id: int) -> dict[str, Any]:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM orchestrator.exceptions WHERE id = %s", (exception_id,)
        ).fetchone()
    assert row is not None
    return row


def _audit(db: psycopg.Connection[Any], exception_id: int) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT action, actor FROM orchestrator.audit_log"
        " WHERE entity_type = 'exception' AND entity_id = %s ORDER BY seq",
        (str(exception_id),),
    ).fetchall()
    return [(a, b) for a, b in rows]


def _offered(api: TestClient, exception_id: int) -> list[str]:
    answer = api.get(f"/api/exceptions/{exception_id}")
    assert answer.status_code == 200, answer.text
    return [a["action"] for a in answer.json()["actions"]]


def _notion_outage_exception(harness: WorkflowHarness) -> tuple[int, int]:
    """A company intake that failed for good in a Notion outage: (run id, exception id)."""
    run = harness.start([event("company.creation", 9001)], "company_intake")
    harness.sandbox.configure(sandbox_config(notion={"faults": {"error_500_share": 1.0}}))
    with pytest.raises(WorkflowFailed) as failed:
        harness.drive(run)
    harness.sandbox.configure(sandbox_config())
    assert failed.value.exception_id is not None
    return run.id, failed.value.exception_id


def _role_review(harness: WorkflowHarness) -> tuple[int, int]:
    run = harness.start([event("contact.creation", 7003)], "contact_role_mapping")  # "Ninja"
    assert harness.drive(run).outcome == "needs_review"
    (exception,) = harness.exceptions(run.id)
    return run.id, exception["id"]


def test_retry_runs_the_failed_run_again_from_its_checkpoint_and_resolves_the_exception(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    run_id, exception_id = _notion_outage_exception(harness)
    assert _offered(api, exception_id) == ["retry", "replay", "dismiss"]
    upserts_before = len(harness.sandbox.requests("airtable"))

    answer = api.post(f"/api/exceptions/{exception_id}/actions/retry")

    assert answer.status_code == 202, answer.text
    action = answer.json()
    assert (action["status"], action["workflow_run_id"], action["actor"]) == (
        "pending",
        run_id,
        f"user:{OPERATOR}",
    )
    assert _offered(api, exception_id) == []  # nothing else while it runs
    (spec,) = harness.dispatch()
    assert (spec.workflow_run_id, spec.dagster_run_key) == (run_id, f"{spec.run_key}#retry-1")
    assert harness.drive(spec.workflow_run_id).outcome == "mirrored"
    # resumed from the checkpoint: only the SOP link was written to Airtable, not the mirror
    assert len(harness.sandbox.requests("airtable")) == upserts_before + 1
    detail = api.get(f"/api/exceptions/{exception_id}").json()
    assert detail["status"] == "resolved"
    assert detail["resolved_by"] == f"user:{OPERATOR}"
    assert detail["action_history"][0]["status"] == "succeeded"
    assert _audit(db, exception_id) == [
        ("exception.opened", "system"),
        ("exception.action_requested", f"user:{OPERATOR}"),
        ("exception.action_succeeded", f"user:{OPERATOR}"),
        ("exception.resolved", f"user:{OPERATOR}"),
    ]
    retried = db.execute(
        "SELECT actor FROM orchestrator.audit_log WHERE action = 'run.retry_requested'"
    ).fetchall()
    assert retried == [(f"user:{OPERATOR}",)]


def test_replay_runs_the_events_again_under_the_current_policy(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    run_id, exception_id = _notion_outage_exception(harness)

    answer = api.post(f"/api/exceptions/{exception_id}/actions/replay")

    assert answer.status_code == 202, answer.text
    action = answer.json()
    assert action["replay_id"] is not None and action["workflow_run_id"] != run_id
    (replayed,) = _drive_launched(harness)
    assert replayed == action["workflow_run_id"]
    assert harness.get_run(replayed).replay_of == run_id
    assert _exception(db, exception_id)["status"] == "resolved"


def test_accepting_the_suggested_role_writes_it_to_hubspot_and_airtable(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    _, exception_id = _role_review(harness)
    assert _offered(api, exception_id) == ["replay", "accept_suggestion", "apply_value", "dismiss"]

    answer = api.post(f"/api/exceptions/{exception_id}/actions/accept_suggestion")

    assert answer.status_code == 202, answer.text
    (replayed,) = _drive_launched(harness)
    assert harness.get_run(replayed).outcome == "role_assigned"
    updates = harness.sandbox.inspect(
        "hubspot/property-updates", objectType="contacts", objectId="7003"
    )["results"]
    assert updates[-1]["properties"]["internal_role"] == "stakeholder"
    contacts = harness.sandbox.inspect(f"airtable/{BASE_ID}/Contacts")["records"]
    assert [c["fields"].get("Role") for c in contacts] == ["stakeholder"]
    assert _exception(db, exception_id)["status"] == "resolved"


def test_applying_a_role_checks_it_against_the_policy_first(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    _, exception_id = _role_review(harness)

    refused = api.post(
        f"/api/exceptions/{exception_id}/actions/apply_value", json={"value": "ninja"}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_value"
    assert "'ninja' is not a role of policy" in refused.json()["error"]["message"]
    missing = api.post(f"/api/exceptions/{exception_id}/actions/apply_value", json={})
    assert missing.status_code == 422 and "`value` is required" in missing.text

    answer = api.post(
        f"/api/exceptions/{exception_id}/actions/apply_value", json={"value": "technical_lead"}
    )

    assert answer.status_code == 202, answer.text
    (replayed,) = _drive_launched(harness)
    updates = harness.sandbox.inspect(
        "hubspot/property-updates", objectType="contacts", objectId="7003"
    )["results"]
    assert updates[-1]["properties"]["internal_role"] == "technical_lead"
    assert harness.get_run(replayed).overrides == {"role": "technical_lead"}
    assert _exception(db, exception_id)["status"] == "resolved"


def test_accepting_the_normalised_domain_fixes_hubspot_and_the_mirror(
    harness: WorkflowHarness,
    api: TestClient,
    db: psycopg.Connection[Any],
    hubspot: HubSpotConnector,
) -> None:
    hubspot.update_properties(
        object_type="companies",
        object_id="9001",
        properties={"domain": "northwind dot example", "website": "https://northwind.example/a"},
    )
    run = harness.start([event("company.creation", 9001)], "company_intake")
    harness.drive(run)
    (domain,) = [e for e in harness.exceptions(run.id) if e["details"]["field"] == "domain"]
    assert domain["details"]["suggested_value"] == "northwind.example"

    answer = api.post(f"/api/exceptions/{domain['id']}/actions/accept_suggestion")

    assert answer.status_code == 202, answer.text
    _drive_launched(harness)
    company = hubspot.get_object(object_type="companies", object_id="9001", properties=["domain"])
    assert company.properties["domain"] == "northwind.example"
    assert _exception(db, domain["id"])["status"] == "resolved"


def test_applying_a_domain_to_a_blocked_company_mirrors_it(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    run = harness.start([event("company.creation", 9003)], "company_intake")  # 'not a domain'
    assert harness.drive(run).outcome == "data_quality_exception"
    (exception,) = harness.exceptions(run.id)

    bad = api.post(
        f"/api/exceptions/{exception['id']}/actions/apply_value",
        json={"value": "https://x.example/path"},
    )
    assert bad.status_code == 422
    assert "is not a domain such as example.com" in bad.json()["error"]["message"]

    answer = api.post(
        f"/api/exceptions/{exception['id']}/actions/apply_value", json={"value": "Fabrikam.EXAMPLE"}
    )

    assert answer.status_code == 202, answer.text
    (replayed,) = _drive_launched(harness)
    assert harness.get_run(replayed).outcome == "mirrored"
    accounts = harness.sandbox.inspect(f"airtable/{BASE_ID}/Accounts")["records"]
    assert [a["fields"]["Domain"] for a in accounts] == ["fabrikam.example"]
    assert _exception(db, exception["id"])["status"] == "resolved"


def test_a_fix_whose_run_raises_the_same_problem_fails_and_the_exception_stays_open(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    _, exception_id = _role_review(harness)

    assert api.post(f"/api/exceptions/{exception_id}/actions/replay").status_code == 202
    _drive_launched(harness)  # the title is still "Ninja": reviewed again

    detail = api.get(f"/api/exceptions/{exception_id}").json()
    assert detail["status"] == "open"
    (failed,) = detail["action_history"]
    assert failed["status"] == "failed"
    assert "raised the same problem again" in failed["error"]
    assert "accept_suggestion" in [a["action"] for a in detail["actions"]]  # try another fix
    assert ("exception.action_failed", f"user:{OPERATOR}") in _audit(db, exception_id)


def test_dismiss_needs_a_reason_resolves_at_once_and_repeats_idempotently(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    _, exception_id = _role_review(harness)
    url = f"/api/exceptions/{exception_id}/actions/dismiss"

    assert api.post(url).status_code == 422
    first = api.post(url, json={"reason": "a test contact"})
    again = api.post(url, json={"reason": "a test contact"})
    other = api.post(url, json={"reason": "something else"})
    retry = api.post(f"/api/exceptions/{exception_id}/actions/replay")

    assert first.status_code == 200 and first.json()["status"] == "succeeded"
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert other.status_code == 409 and other.json()["error"]["code"] == "already_resolved"
    assert retry.status_code == 409
    row = _exception(db, exception_id)
    assert (row["status"], row["resolution_note"]) == ("resolved", "dismissed: a test contact")
    assert _audit(db, exception_id)[1:] == [
        ("exception.action_requested", f"user:{OPERATOR}"),
        ("exception.resolved", f"user:{OPERATOR}"),
    ]


def test_while_a_fix_runs_the_same_request_answers_it_and_another_is_refused(
    harness: WorkflowHarness, api: TestClient
) -> None:
    _, exception_id = _notion_outage_exception(harness)

    first = api.post(f"/api/exceptions/{exception_id}/actions/retry")
    again = api.post(f"/api/exceptions/{exception_id}/actions/retry")
    other = api.post(f"/api/exceptions/{exception_id}/actions/dismiss", json={"reason": "x"})

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "action_in_progress"


def test_an_action_the_exception_does_not_offer_is_refused_naming_those_it_does(
    harness: WorkflowHarness, api: TestClient
) -> None:
    _, exception_id = _role_review(harness)  # its run succeeded: nothing to retry

    answer = api.post(f"/api/exceptions/{exception_id}/actions/retry")

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "action_not_offered"
    assert "it offers accept_suggestion, apply_value, dismiss, replay" in answer.text
    assert api.post(f"/api/exceptions/{exception_id}/actions/explode").status_code == 422
    assert (
        api.post("/api/exceptions/999999/actions/dismiss", json={"reason": "x"}).status_code == 404
    )
    assert api.get("/api/exceptions/999999").status_code == 404


def test_procurement_exceptions_need_the_admin_that_decides_procurement(
    harness: WorkflowHarness, api: TestClient, db: psycopg.Connection[Any]
) -> None:
    run = harness.start([event("deal.creation", 5001)], "procurement_approval")

    exception = open_exception(
        db,
        NewException(kind="over_budget", severity="error", message="over"),
        run=harness.get_run(run.id),
    )

    as_operator = api.post(
        f"/api/exceptions/{exception['id']}/actions/dismiss", json={"reason": "known"}
    )
    as_admin = api.post(
        f"/api/exceptions/{exception['id']}/actions/dismiss",
        json={"reason": "known"},
        headers=signed_in(db, ADMIN, "admin", secret=JWT_SECRET),
    )

    assert as_operator.status_code == 403
    assert "needs the admin role; you have operator" in as_operator.json()["error"]["message"]
    assert as_admin.status_code == 200
    assert api.get(f"/api/exceptions/{exception['id']}").json()["actions_role"] == "admin"
