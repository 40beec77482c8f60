"""AirtableConnector against the sandbox over real HTTP, through pyairtable."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from resources.airtable import AirtableConnector
from resources.errors import AuthError, BadDataError, NotFoundError, TransientConnectorError
from tests.vendor_sandbox import BASE_ID, SandboxServer, airtable_for, sandbox_config

TABLE = "Accounts"


def companies(count: int, *, start: int = 9001, stage: str = "lead") -> list[dict[str, Any]]:
    return [
        {"HubSpot ID": str(start + i), "Name": f"Company {i}", "Lifecycle Stage": stage}
        for i in range(count)
    ]


def test_upsert_creates_then_updates_by_hubspot_id(
    airtable: AirtableConnector, sandbox: SandboxServer
) -> None:
    first = airtable.upsert_records(table=TABLE, records=companies(25))
    assert (len(first.created_ids), len(first.updated_ids)) == (25, 0)

    second = airtable.upsert_records(table=TABLE, records=companies(12, stage="customer"))
    assert (len(second.created_ids), len(second.updated_ids)) == (0, 12)
    assert set(second.updated_ids) <= set(first.created_ids)

    stored = sandbox.inspect(f"airtable/{BASE_ID}/{TABLE}")["records"]
    assert len(stored) == 25
    requests = sandbox.requests("airtable")
    assert [r["method"] for r in requests] == ["PATCH"] * 5  # 10 records per request


def test_read_back_by_key(airtable: AirtableConnector) -> None:
    airtable.upsert_records(table=TABLE, records=companies(3))

    one = airtable.get_by_key(table=TABLE, key="9002")
    many = airtable.find_by_keys(table=TABLE, keys=["9001", "9003", "404404"])

    assert one is not None and one.fields["Name"] == "Company 1"
    assert set(many) == {"9001", "9003"}
    assert airtable.get_by_key(table=TABLE, key="404404") is None


def test_a_record_without_its_key_is_refused_before_any_request(
    airtable: AirtableConnector, sandbox: SandboxServer
) -> None:
    with pytest.raises(BadDataError):
        airtable.upsert_records(table=TABLE, records=[*companies(2), {"Name": "no key"}])
    assert sandbox.requests("airtable") == []


def test_throttle_keeps_under_five_requests_per_second(
    airtable: AirtableConnector, sandbox: SandboxServer
) -> None:
    started = time.monotonic()
    airtable.upsert_records(table=TABLE, records=companies(150))

    seconds = sandbox.per_second("airtable")
    assert max(second["served"] for second in seconds) <= 5
    assert sum(second["refused"] for second in seconds) == 0
    assert time.monotonic() - started >= 2.0  # 15 requests at 5/s


def test_a_429_penalty_is_waited_out_without_knocking_during_it(sandbox: SandboxServer) -> None:
    # The base allows 2 requests/s and then refuses everything for 1 s; the client thinks it
    # may send 10/s. It meets one 429, waits out the penalty and finishes.
    sandbox.configure(sandbox_config(airtable={"requests_per_second": 2, "penalty_seconds": 1.0}))
    airtable = airtable_for(sandbox, requests_per_second=10)

    result = airtable.upsert_records(table=TABLE, records=companies(40))

    assert len(result.created_ids) == 40
    log = sandbox.requests("airtable")
    assert [r["outcome"] for r in log].count("rate_limited") == 1
    assert "penalised" not in [r["outcome"] for r in log]  # nothing sent during the penalty
    refused = next(i for i, r in enumerate(log) if r["status"] == 429)
    waited = _at(log[refused + 1]) - _at(log[refused])
    assert waited >= 1.0


def test_unknown_table_is_not_found(sandbox: SandboxServer) -> None:
    sandbox.configure(sandbox_config(airtable={"tables": {BASE_ID: [TABLE]}}))
    airtable = airtable_for(sandbox)

    with pytest.raises(NotFoundError) as raised:
        airtable.upsert_records(table="No Such Table", records=companies(1))
    # Airtable's (and the sandbox's) answer for a table that does not exist.
    assert (raised.value.status, raised.value.code) == (
        403,
        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
    )


def test_a_value_the_field_cannot_take_is_bad_data(airtable: AirtableConnector) -> None:
    airtable.upsert_records(table=TABLE, records=[{"HubSpot ID": "1", "Employees": 10}])

    with pytest.raises(BadDataError) as raised:
        airtable.upsert_records(
            table=TABLE, records=[{"HubSpot ID": "2", "Employees": {"not": "a number"}}]
        )
    assert raised.value.status == 422


def test_missing_credentials_are_an_auth_error(airtable: AirtableConnector) -> None:
    # The sandbox refuses a request without a bearer token: have pyairtable send none.
    airtable._api.session.headers.pop("Authorization")
    with pytest.raises(AuthError) as raised:
        airtable.get_by_key(table=TABLE, key="9001")
    assert raised.value.status == 401


def test_server_errors_exhaust_the_retries_as_a_transient_error(sandbox: SandboxServer) -> None:
    sandbox.configure(sandbox_config(airtable={"faults": {"error_500_share": 1.0}}))
    airtable = airtable_for(sandbox)

    with pytest.raises(TransientConnectorError) as raised:
        airtable.upsert_records(table=TABLE, records=companies(5))

    assert raised.value.status == 500
    # An upsert is idempotent, so even a write that may have applied is retried.
    assert [r["status"] for r in sandbox.requests("airtable")] == [500, 500, 500]


def _at(row: dict[str, Any]) -> float:
    return datetime.fromisoformat(row["receivedAt"]).timestamp()
