"""AirtableConnector against the sandbox over real HTTP, through pyairtable."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest

from resources.airtable import AirtableConnector, AirtableRecord, UpsertResult
from resources.errors import AuthError, BadDataError, NotFoundError, TransientConnectorError
from tests.connectors.concurrency import concurrently
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


# -- concurrent callers share requests (resources/coalescing.py) -----------------------------


def upsert_one(airtable: AirtableConnector, record: dict[str, Any]) -> Callable[[], UpsertResult]:
    return lambda: airtable.upsert_records(table=TABLE, records=[record])


def seed_for_faults(pattern: list[bool], share: float) -> int:
    """A sandbox seed whose Airtable fault draws, request after request, fail where
    `pattern` is true (a draw below `share` is a fault: sandbox/faults.py)."""
    for seed in range(100_000):
        draws = random.Random(f"{seed}:airtable")  # the sandbox's own sequence
        if all((draws.random() < share) == fault for fault in pattern):
            return seed
    raise AssertionError("no seed gives that pattern")


def test_concurrent_upserts_become_requests_of_ten(
    airtable: AirtableConnector, sandbox: SandboxServer
) -> None:
    # 25 callers, one record each, arriving while the first request waits for the throttle.
    records = companies(25)
    airtable.throttle.pause(0.5)

    results = concurrently([upsert_one(airtable, record) for record in records])

    assert [r["method"] for r in sandbox.requests("airtable")] == ["PATCH"] * 3  # ceil(25 / 10)
    stored = {
        r["id"]: r["fields"] for r in sandbox.inspect(f"airtable/{BASE_ID}/{TABLE}")["records"]
    }
    ids = set()
    for record, result in zip(records, results, strict=True):
        assert isinstance(result, UpsertResult)
        (mine,) = result.records
        assert result.created_ids == (mine.id,) and result.updated_ids == ()
        assert mine.fields["HubSpot ID"] == record["HubSpot ID"]
        assert stored[mine.id] == record
        ids.add(mine.id)
    assert len(ids) == len(stored) == 25


def test_concurrent_lookups_become_one_formula_query(
    airtable: AirtableConnector, sandbox: SandboxServer
) -> None:
    airtable.upsert_records(table=TABLE, records=companies(6))
    airtable.throttle.pause(0.5)

    found = concurrently(
        [
            lambda: airtable.get_by_key(table=TABLE, key="9001"),
            lambda: airtable.get_by_key(table=TABLE, key="404404"),
            lambda: airtable.find_by_keys(table=TABLE, keys=["9002", "9003", "9001"]),
            lambda: airtable.find_by_keys(table=TABLE, keys=["9006", "505505"]),
        ]
    )

    first, missing, several, some = found
    assert isinstance(first, AirtableRecord) and first.fields["HubSpot ID"] == "9001"
    assert missing is None
    assert isinstance(several, dict) and set(several) == {"9001", "9002", "9003"}
    assert several["9001"] == first
    assert isinstance(some, dict) and set(some) == {"9006"}
    lookups = [r for r in sandbox.requests("airtable") if r["method"] == "GET"]
    assert len(lookups) == 1
    assert "OR%28" in lookups[0]["query"]


def test_two_upserts_of_one_key_never_share_a_request(
    airtable: AirtableConnector, sandbox: SandboxServer
) -> None:
    airtable.throttle.pause(0.5)

    results = concurrently(
        [
            upsert_one(airtable, {"HubSpot ID": "9001", "Name": "first"}),
            upsert_one(airtable, {"HubSpot ID": "9002", "Name": "other"}),
            upsert_one(airtable, {"HubSpot ID": "9001", "Name": "second"}),
        ]
    )

    assert len(sandbox.requests("airtable")) == 2
    first, other, second = results
    assert isinstance(first, UpsertResult) and isinstance(second, UpsertResult)
    assert isinstance(other, UpsertResult)
    assert first.records[0].id == second.records[0].id  # one record, created then updated
    assert len(first.created_ids) + len(second.created_ids) == 1
    stored = sandbox.inspect(f"airtable/{BASE_ID}/{TABLE}")["records"]
    assert len(stored) == 2


def test_a_failed_batch_fails_only_the_writes_in_it(sandbox: SandboxServer) -> None:
    # Requests in order: the first batch is served; the second meets a 500 on each of its 3
    # attempts; the third is served. Only the second batch's callers fail.
    seed = seed_for_faults([False, True, True, True, False], share=0.5)
    sandbox.configure(sandbox_config(airtable={"faults": {"error_500_share": 0.5}}), seed=seed)
    airtable = airtable_for(sandbox)
    records = companies(25)
    airtable.throttle.pause(0.5)

    results = concurrently([upsert_one(airtable, record) for record in records])

    assert [r["status"] for r in sandbox.requests("airtable")] == [200, 500, 500, 500, 200]
    failed = [r for r in results if isinstance(r, BaseException)]
    written = [r for r in results if isinstance(r, UpsertResult)]
    assert (len(failed), len(written)) == (10, 15)
    assert all(isinstance(error, TransientConnectorError) for error in failed)
    assert all(
        error.status == 500 for error in failed if isinstance(error, TransientConnectorError)
    )
    stored = sandbox.inspect(f"airtable/{BASE_ID}/{TABLE}")["records"]
    assert {r["id"] for r in stored} == {result.records[0].id for result in written}


def test_a_refused_record_fails_only_its_caller(
    airtable: AirtableConnector, sandbox: SandboxServer
) -> None:
    # Airtable refuses a whole request (422) for one value its field cannot take: each caller's
    # records are then sent on their own, so the other callers' writes still land.
    airtable.upsert_records(table=TABLE, records=[{"HubSpot ID": "1", "Employees": 10}])
    good = [{"HubSpot ID": str(9001 + n), "Employees": n} for n in range(5)]
    bad: dict[str, Any] = {"HubSpot ID": "666", "Employees": {"not": "a number"}}
    airtable.throttle.pause(0.5)

    results = concurrently([upsert_one(airtable, record) for record in [*good[:2], bad, *good[2:]]])

    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and results[2] is errors[0]
    assert isinstance(errors[0], BadDataError) and errors[0].status == 422
    assert all(isinstance(r, UpsertResult) for n, r in enumerate(results) if n != 2)
    statuses = [r["status"] for r in sandbox.requests("airtable")]
    # The first record, the shared request (refused), then each caller's on its own.
    assert statuses[:2] == [200, 422]
    assert sorted(statuses[2:]) == [200] * 5 + [422]
    stored = sandbox.inspect(f"airtable/{BASE_ID}/{TABLE}")["records"]
    assert len(stored) == 6


def test_a_lone_call_is_one_request_without_delay(
    airtable: AirtableConnector, sandbox: SandboxServer
) -> None:
    assert airtable._table(TABLE)  # the client built, untimed
    started = time.monotonic()
    airtable.upsert_records(table=TABLE, records=companies(1))
    airtable.get_by_key(table=TABLE, key="9001")
    elapsed = time.monotonic() - started

    log = sandbox.requests("airtable")
    assert [r["method"] for r in log] == ["PATCH", "GET"]
    served = sum(r["durationMs"] for r in log) / 1000
    assert elapsed < served + 0.5  # the requests' own time and the client's, no linger


def test_a_burst_at_the_real_limits_gets_no_429(
    airtable: AirtableConnector, sandbox: SandboxServer
) -> None:
    # 16 threads map 24 contacts as contact_role_mapping does (account lookup, contact upsert,
    # checklist lookup and upsert) against Airtable's real 5 requests/s per base.
    airtable.upsert_records(table=TABLE, records=companies(10))

    def contact(n: int) -> None:
        contact_id = str(7001 + n)
        account = airtable.get_by_key(table=TABLE, key=str(9001 + n % 10))
        assert account is not None
        mine = airtable.upsert_records(
            table="Contacts",
            records=[{"HubSpot ID": contact_id, "Account": account.id, "Name": f"C{n}"}],
        )
        keys = [f"{contact_id}:{item}" for item in ("crm", "drive", "slack")[: 1 + n % 3]]
        existing = airtable.find_by_keys(table="Checklist", keys=keys, key_field="Key")
        items = airtable.upsert_records(
            table="Checklist",
            records=[
                {"Key": key, "Contact": mine.records[0].id} for key in keys if key not in existing
            ],
            key_field="Key",
        )
        assert len(items.records) == len(keys)

    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(contact, n) for n in range(24)]:
            future.result()

    log = sandbox.requests("airtable")
    assert {r["outcome"] for r in log} == {"ok"}
    assert max(second["served"] for second in sandbox.per_second("airtable")) <= 5
    assert len(log) < 24 * 4 / 2  # at least halved by sharing requests
    contacts = sandbox.inspect(f"airtable/{BASE_ID}/Contacts")["records"]
    assert len(contacts) == 24
