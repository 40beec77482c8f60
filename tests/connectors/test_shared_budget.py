"""Vendor request budgets shared between processes through Postgres (`PostgresRequestBudget`).

Two connectors, each with its own throttle and its own budget pool, stand for two Dagster runs
working at once: the sandbox, which enforces Airtable's limit per base, is the judge.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from orchestrator_core.vendor_budgets import PostgresRequestBudget
from resources.airtable import AirtableConnector
from resources.errors import RateLimitedError
from resources.resilience import RateLimit, Throttle
from tests.vendor_sandbox import SandboxServer, airtable_for, sandbox_config

TABLE = "Accounts"


@pytest.fixture
def budgets(
    database_url: str, db: psycopg.Connection[tuple[object, ...]]
) -> Iterator[list[PostgresRequestBudget]]:
    """Two budget handles, each with its own connections, as two processes have."""
    opened = [PostgresRequestBudget(database_url), PostgresRequestBudget(database_url)]
    yield opened
    for budget in opened:
        budget.close()


def companies(count: int, *, start: int) -> list[dict[str, Any]]:
    return [{"HubSpot ID": str(start + i), "Name": f"Company {i}"} for i in range(count)]


def upsert_from_two_processes(connectors: list[AirtableConnector]) -> list[BaseException]:
    """12 requests of 10 records each, sent at once by both; what each raised, if anything."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(connector.upsert_records, table=TABLE, records=companies(120, start=n))
            for n, connector in zip((1000, 5000), connectors, strict=True)
        ]
        errors = [future.exception() for future in futures]
    return [error for error in errors if error is not None]


def test_two_processes_sharing_a_budget_stay_under_the_base_limit_together(
    sandbox: SandboxServer, budgets: list[PostgresRequestBudget]
) -> None:
    connectors = [airtable_for(sandbox, shared_budget=budget) for budget in budgets]

    assert upsert_from_two_processes(connectors) == []

    seconds = sandbox.per_second("airtable")
    assert sum(second["refused"] for second in seconds) == 0
    assert max(second["served"] for second in seconds) <= 5
    assert sum(second["served"] for second in seconds) == 24


def test_without_a_shared_budget_two_processes_overrun_the_base(sandbox: SandboxServer) -> None:
    # The control: each process alone keeps to 5/s, together they send up to 10/s (and may
    # run out of retries on the 429s: what is asserted is that the base refused requests).
    sandbox.configure(sandbox_config(airtable={"penalty_seconds": 0.2}))
    connectors = [airtable_for(sandbox), airtable_for(sandbox)]

    errors = upsert_from_two_processes(connectors)

    assert sum(second["refused"] for second in sandbox.per_second("airtable")) > 0
    assert all(isinstance(error, RateLimitedError) for error in errors)


def test_a_pause_after_a_429_holds_every_process(
    budgets: list[PostgresRequestBudget],
) -> None:
    first, second = (
        Throttle("airtable", [RateLimit(5, 1.0)], vendor="airtable", shared=budget, shared_key="k")
        for budget in budgets
    )
    first.pause(1.0)

    started = time.monotonic()
    second.release(second.acquire())

    assert time.monotonic() - started >= 0.9


def test_a_window_is_counted_from_the_answer(budgets: list[PostgresRequestBudget]) -> None:
    budget, other = budgets
    slot, wait = budget.take("k", [1], [500])
    assert slot is not None and wait == 0
    # A request in flight holds its place: nobody else gets one.
    assert other.take("k", [1], [500])[0] is None
    time.sleep(0.6)
    budget.stamp(slot)  # the answer arrives 0.6 s after the grant

    refused, wait = other.take("k", [1], [500])

    assert refused is None
    assert 0.4 < wait <= 0.5  # a window from the answer, not from the grant
    time.sleep(wait)
    assert other.take("k", [1], [500])[0] is not None


def test_each_window_of_a_budget_is_kept(budgets: list[PostgresRequestBudget]) -> None:
    budget, _ = budgets
    granted = [budget.take("k", [3, 4], [200, 2000])[0] for _ in range(3)]
    assert None not in granted
    assert budget.take("k", [3, 4], [200, 2000])[0] is None  # 3 in 200 ms
    time.sleep(0.25)
    assert budget.take("k", [3, 4], [200, 2000])[0] is not None  # the 4th in 2 s
    refused, wait = budget.take("k", [3, 4], [200, 2000])
    assert refused is None and wait > 1.5  # the 2-second window is full


def test_budgets_are_separate_by_key(budgets: list[PostgresRequestBudget]) -> None:
    budget, _ = budgets
    assert budget.take("base A", [1], [1000])[0] is not None
    assert budget.take("base B", [1], [1000])[0] is not None
    assert budget.take("base A", [1], [1000])[0] is None
