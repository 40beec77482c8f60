"""Sandbox control: fault injection, reset, runtime config, shared state, the CLI command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.deals import SimplePublicObjectInput
from hubspot.crm.objects.notes import SimplePublicObjectInputForCreate
from notion_client import APIResponseError, Client, RequestTimeoutError
from urllib3.util.retry import Retry

from sandbox.config import config_from_env
from tests.support import eventually, free_port
from tests.vendor_sandbox import SandboxServer

SOP_PARENT = "1b2c3d4e-0000-4a00-8000-00000000a002"
HUBSPOT_AUTH = {"Authorization": "Bearer sandbox-token"}


def hubspot(sandbox: SandboxServer, timeout: float | None = None) -> HubSpot:
    api = HubSpot(
        access_token="sandbox-token",
        host=sandbox.url("/hubspot"),
        retry=Retry(total=0, respect_retry_after_header=False),
    )
    return api


def statuses(sandbox: SandboxServer, count: int) -> list[int]:
    with httpx.Client(headers=HUBSPOT_AUTH) as http:
        return [
            http.get(sandbox.url("/hubspot/crm/v3/objects/deals/5001")).status_code
            for _ in range(count)
        ]


def test_injected_500s_follow_the_seed(sandbox: SandboxServer) -> None:
    sandbox.configure(seed=7, faults={"error_500_share": 0.3})
    first = statuses(sandbox, 30)
    sandbox.reset()  # restarts the fault sequence
    again = statuses(sandbox, 30)
    sandbox.configure(seed=8, faults={"error_500_share": 0.3})
    other_seed = statuses(sandbox, 30)
    with httpx.Client(headers=HUBSPOT_AUTH) as http:
        failed = next(
            r
            for r in (
                http.get(sandbox.url("/hubspot/crm/v3/objects/deals/5001")) for _ in range(50)
            )
            if r.status_code == 500
        )

    assert first == again
    assert first != other_seed
    assert set(first) == {200, 500}
    assert 3 <= first.count(500) <= 18
    assert failed.json()["status"] == "error"
    assert failed.json()["category"] == "INTERNAL_ERROR"


def test_faults_aimed_at_one_path_and_bounded_in_number(sandbox: SandboxServer) -> None:
    sandbox.configure(
        hubspot={
            "faults": {"error_500_share": 1.0, "path_contains": "/deals/5002", "max_faults": 2}
        }
    )
    with httpx.Client(headers=HUBSPOT_AUTH) as http:

        def get(deal: int) -> int:
            url = sandbox.url(f"/hubspot/crm/v3/objects/deals/{deal}")
            return http.get(url).status_code

        others = [get(5001) for _ in range(3)]
        aimed = [get(5002) for _ in range(4)]
        sandbox.reset()  # the count restarts
        again = [get(5002) for _ in range(3)]

    assert others == [200, 200, 200]
    assert aimed == [500, 500, 200, 200]
    assert again == [500, 500, 200]


def test_faults_aimed_at_one_method(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"faults": {"error_500_share": 1.0, "method": "PATCH"}})
    url = sandbox.url("/hubspot/crm/v3/objects/deals/5001")
    with httpx.Client(headers=HUBSPOT_AUTH) as http:
        read = http.get(url).status_code
        write = http.patch(url, json={"properties": {"dealname": "x"}}).status_code

    assert (read, write) == (200, 500)


def test_faults_are_per_vendor(sandbox: SandboxServer) -> None:
    sandbox.configure(notion={"faults": {"error_500_share": 1.0}})
    notion = Client(auth="secret_x", base_url=sandbox.url("/notion"), retry=False)
    with pytest.raises(APIResponseError) as failed:
        notion.pages.retrieve(page_id=SOP_PARENT)

    assert failed.value.status == 500
    assert failed.value.code == "internal_server_error"
    assert statuses(sandbox, 5) == [200] * 5


def test_injected_429_carries_retry_after(sandbox: SandboxServer) -> None:
    sandbox.configure(faults={"error_429_share": 1.0})
    response = httpx.get(
        sandbox.url("/airtable/v0/appX/Companies"), headers={"Authorization": "Bearer k"}
    )

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["errors"][0]["error"] == "RATE_LIMIT_REACHED"


def test_slow_answers(sandbox: SandboxServer) -> None:
    sandbox.configure(faults={"slow_share": 1.0, "slow_seconds": 0.4})
    started = time.perf_counter()
    response = httpx.get(sandbox.url("/hubspot/crm/v3/objects/deals/5001"), headers=HUBSPOT_AUTH)
    elapsed = time.perf_counter() - started
    logged = sandbox.inspect("requests", vendor="hubspot")["requests"]

    assert response.status_code == 200
    assert elapsed >= 0.4
    assert logged[-1]["outcome"] == "slow"


def test_timeout_hangs_past_the_client_and_changes_nothing(sandbox: SandboxServer) -> None:
    sandbox.configure(notion={"faults": {"timeout_share": 1.0, "hang_seconds": 1.5}})
    notion = Client(auth="secret_x", base_url=sandbox.url("/notion"), retry=False, timeout_ms=300)
    with pytest.raises(RequestTimeoutError):
        notion.pages.create(
            parent={"page_id": SOP_PARENT},
            properties={"title": {"title": [{"text": {"content": "Never created"}}]}},
        )
    # The sandbox logs the request once its hang is over, after the client gave up; looked for
    # by what it is, not as the last line: a slow request of an earlier test (a worker killed
    # while the session's sandbox served it) can still be logged when its own wait ends.
    eventually(
        lambda: any(
            r["outcome"] == "fault_timeout" and r["method"] == "POST"
            for r in sandbox.inspect("requests", vendor="notion")["requests"]
        ),
        10.0,
        what="the timed-out request in the log",
    )
    pages = sandbox.inspect("notion/pages")["pages"]
    assert all(p["properties"]["title"]["title"][0]["plain_text"] != "Never created" for p in pages)


def test_a_slow_write_lands_after_the_client_gave_up(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"faults": {"slow_share": 1.0, "slow_seconds": 1.0}})
    with pytest.raises(httpx.ReadTimeout):
        httpx.patch(
            sandbox.url("/hubspot/crm/v3/objects/deals/5001"),
            headers=HUBSPOT_AUTH,
            json={"properties": {"dealstage": "closedlost"}},
            timeout=0.3,
        )

    # As at a slow vendor: the request was taken, and applied once its time came.
    def applied() -> list[dict[str, Any]]:
        updates = sandbox.inspect("hubspot/property-updates", objectId="5001")["results"]
        return [u for u in updates if u["properties"] == {"dealstage": "closedlost"}]

    assert eventually(applied, 10.0, what="the slow write applied")
    logged = sandbox.inspect("requests", vendor="hubspot")["requests"]
    assert any(r["outcome"] == "slow" and r["method"] == "PATCH" for r in logged)


def test_lost_response_applies_the_write(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"faults": {"lost_response_share": 1.0, "hang_seconds": 1.5}})
    with pytest.raises(httpx.ReadTimeout):
        httpx.patch(
            sandbox.url("/hubspot/crm/v3/objects/deals/5001"),
            headers=HUBSPOT_AUTH,
            json={"properties": {"dealstage": "closedwon"}},
            timeout=0.3,
        )
    updates = sandbox.inspect("hubspot/property-updates", objectId="5001")["results"]

    # The client saw a timeout, yet the update landed: a retry must be idempotent.
    assert [u["properties"] for u in updates] == [{"dealstage": "closedwon"}]


def test_reset_restores_the_seed(sandbox: SandboxServer) -> None:
    api = hubspot(sandbox)
    api.crm.deals.basic_api.update("5001", SimplePublicObjectInput(properties={"amount": "1"}))
    api.crm.objects.notes.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"hs_timestamp": "2026-11-24T10:00:00Z"})
    )
    httpx.patch(
        sandbox.url("/airtable/v0/appX/Companies"),
        headers={"Authorization": "Bearer k"},
        json={
            "records": [{"fields": {"HubSpot ID": "9001"}}],
            "performUpsert": {"fieldsToMergeOn": ["HubSpot ID"]},
        },
    )

    sandbox.reset()
    deal = api.crm.deals.basic_api.get_by_id("5001", properties=["amount"])

    assert deal.properties["amount"] == "48000"
    assert sandbox.inspect("hubspot/notes")["results"] == []
    assert sandbox.inspect("airtable")["tables"] == []
    # The log restarted with the reset: only the read above is in it.
    assert [r["path"] for r in sandbox.inspect("requests")["requests"]] == [
        "/hubspot/crm/v3/objects/deals/5001"
    ]


def test_config_is_validated_and_readable(sandbox: SandboxServer) -> None:
    refused = sandbox.client.put(
        "/_sandbox/config", json={"faults": {"error_500_share": 0.7, "slow_share": 0.5}}
    )
    applied = sandbox.configure(hubspot={"requests_per_window": 190})

    assert refused.status_code == 422
    assert applied["hubspot"]["requests_per_window"] == 190
    assert sandbox.inspect("config")["hubspot"]["requests_per_window"] == 190


def test_bulk_insert_stores_hubspot_objects_without_vendor_requests(
    sandbox: SandboxServer,
) -> None:
    contacts = [
        {
            "properties": {"firstname": "Ada", "email": "ada@northwind.example", "jobtitle": "CTO"},
            "associations": {"companies": ["9001"]},
        },
        {"id": "8500", "properties": {"firstname": "Ben", "email": "ben@acme.example"}},
    ]
    inserted = sandbox.client.post(
        "/_sandbox/hubspot/objects", json={"objectType": "contacts", "objects": contacts}
    )
    new_id, given_id = inserted.json()["ids"]
    logged = sandbox.inspect("requests")["requests"]
    api = hubspot(sandbox)
    ada = api.crm.contacts.basic_api.get_by_id(
        new_id, properties=["email", "jobtitle"], associations=["companies"]
    )
    ben = api.crm.contacts.basic_api.get_by_id(given_id)
    company = api.crm.companies.basic_api.get_by_id("9001", associations=["contacts"])

    assert inserted.status_code == 201
    assert int(new_id) >= 100_000_001  # from the ids a create would take
    assert given_id == "8500"
    assert logged == []  # no vendor request, so nothing counted against a limit
    assert ada.properties["jobtitle"] == "CTO"
    assert ada.properties["hs_object_id"] == new_id
    assert ada.properties["createdate"] == ada.properties["lastmodifieddate"]
    assert {c.id for c in ada.associations["companies"].results} == {"9001"}
    assert ben.properties["firstname"] == "Ben"
    assert new_id in [c.id for c in company.associations["contacts"].results]


def test_bulk_insert_is_all_or_nothing(sandbox: SandboxServer) -> None:
    def insert(objects: list[dict[str, object]], object_type: str = "contacts") -> int:
        body = {"objectType": object_type, "objects": objects}
        return sandbox.client.post("/_sandbox/hubspot/objects", json=body).status_code

    fresh = {"properties": {"email": "new@northwind.example"}}
    statuses = [
        # Camille Dubois (7001) has this email already.
        insert([fresh, {"properties": {"email": "Camille.Dubois@northwind.example"}}]),
        insert([fresh, {"properties": {"email": "new@northwind.example"}}]),
        insert([fresh, {"id": "7002", "properties": {}}]),
        insert([fresh, {"properties": {}, "associations": {"companies": ["9999"]}}]),
        insert([{"properties": {}}], object_type="tickets"),
        insert([{"properties": {}}], object_type="notes"),  # hs_timestamp is required
    ]
    contacts = sandbox.inspect("hubspot/contacts")["results"]

    assert statuses == [409, 409, 409, 400, 400, 400]
    assert "new@northwind.example" not in [c["properties"].get("email") for c in contacts]


def test_request_log_empties_and_counters_restart(sandbox: SandboxServer) -> None:
    sandbox.configure(hubspot={"requests_per_window": 2, "window_seconds": 60})
    refused = statuses(sandbox, 3)
    counts = sandbox.inspect("requests/counts")["counts"]
    cleared = sandbox.client.delete("/_sandbox/requests").json()
    after = statuses(sandbox, 1)

    assert refused == [200, 200, 429]
    assert counts == [
        {"vendor": "hubspot", "outcome": "ok", "requests": 2},
        {"vendor": "hubspot", "outcome": "rate_limited", "requests": 1},
    ]
    assert cleared == {"deleted": 3}
    assert after == [200]  # the window restarted with the log
    assert sandbox.inspect("requests/counts", vendor="hubspot")["counts"] == [
        {"vendor": "hubspot", "outcome": "ok", "requests": 1}
    ]
    assert sandbox.inspect("hubspot/contacts")["results"]  # the state stayed


def test_unknown_vendor_route_answers_in_the_vendor_shape(sandbox: SandboxServer) -> None:
    notion = Client(auth="secret_x", base_url=sandbox.url("/notion"), retry=False)
    with pytest.raises(APIResponseError) as missing:
        notion.databases.retrieve(database_id=SOP_PARENT)

    assert missing.value.status == 404
    assert missing.value.code == "object_not_found"


def test_state_is_shared_between_sandbox_processes(sandbox: SandboxServer) -> None:
    hubspot(sandbox).crm.deals.basic_api.update(
        "5004", SimplePublicObjectInput(properties={"dealstage": "contractsent"})
    )
    second = SandboxServer(sandbox.database_url).start()
    try:
        seen = httpx.get(
            f"{second.base_url}/hubspot/crm/v3/objects/deals/5004",
            params={"properties": "dealstage"},
            headers=HUBSPOT_AUTH,
        )
    finally:
        second.stop()

    assert seen.json()["properties"]["dealstage"] == "contractsent"


def test_config_from_environment() -> None:
    config = config_from_env(
        {
            "SANDBOX_URL": "http://127.0.0.1:8900",  # the product's setting, not ours
            "SANDBOX_CONFIG": json.dumps({"airtable": {"penalty_seconds": 2}}),
            "SANDBOX_FAULTS": json.dumps({"error_500_share": 0.1}),
            "SANDBOX_FAULTS__SLOW_SECONDS": "0.5",
            "SANDBOX_HUBSPOT__REQUESTS_PER_WINDOW": "190",
            "SANDBOX_NOTION__FAULTS": '{"error_429_share": 0.2}',
            "SANDBOX_SEED": "7",
        }
    )

    assert config.seed == 7
    assert config.airtable.penalty_seconds == 2
    assert config.hubspot.requests_per_window == 190
    assert config.faults.error_500_share == 0.1
    assert config.faults.slow_seconds == 0.5
    assert config.faults_for("hubspot").error_500_share == 0.1
    assert config.faults_for("notion").error_429_share == 0.2
    with pytest.raises(ValueError):
        config_from_env({"SANDBOX_FAULTS": '{"error_500_share": 2}'})


def test_cli_command_serves_with_env_config(sandbox: SandboxServer, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": sandbox.database_url,
        "SANDBOX_HUBSPOT__REQUESTS_PER_WINDOW": "2",
    }
    log = (tmp_path / "sandbox.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from orchestrator_cli.sandbox import sandbox; sandbox()",
            "--port",
            str(port),
            "--reset",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process, tmp_path / "sandbox.log")
        answers = [
            httpx.get(f"{base}/hubspot/crm/v3/objects/companies/9001", headers=HUBSPOT_AUTH)
            for _ in range(3)
        ]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
        log.close()

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].json()["properties"]["name"] == "Northwind Traders"
    assert process.returncode == 0
    assert "sandbox reset" in (tmp_path / "sandbox.log").read_text()


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sandbox exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/_sandbox/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"sandbox not healthy:\n{log.read_text()}")
