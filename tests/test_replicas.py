"""Two API replicas on an external PostgreSQL (issue 16, item 4): Debian's PostgreSQL server as a
separate process on a loopback port with password authentication, and two `orchestrator serve`
processes on their own ports that know it only by DATABASE_URL, as two replicas behind a load
balancer do. Login failures count once between them (and between the API's token endpoint and
the console's form), a delivery sent to both stores its events once, and both are ready."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import JWT_SECRET, WEBHOOK_SECRET
from tests.console.support import console_login
from tests.debian_postgres import ExternalPostgres, debian_postgres
from tests.support import (
    TEST_PASSWORD,
    LiveServer,
    add_user,
    delivery_body,
    hubspot_event,
    signed_headers,
    start_live_server,
)

# Servers of their own, not the suite's: marked by hand (conftest marks by fixture name).
pytestmark = pytest.mark.stack

# The URL HubSpot calls, the load balancer's: both replicas check signatures against it, so one
# signed delivery is valid at either, as a retry through the balancer may land on the other.
PUBLIC_WEBHOOK_URL = "https://hooks.orchestrator.example/webhooks/hubspot"
WRONG_PASSWORD = "not-the-password-123"
PER_ACCOUNT = 5  # LOGIN_LIMIT_PER_ACCOUNT's default, 5/minute


@pytest.fixture(scope="module")
def external_postgres() -> Iterator[ExternalPostgres]:
    with debian_postgres(database="orchestrator") as server:
        yield server


@pytest.fixture(scope="module")
def replicas(
    external_postgres: ExternalPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two `orchestrator serve` processes, started at once on the empty database: each applies
    the migrations at start (under the migration lock, so one does and the other finds them
    done)."""
    env = {
        "DATABASE_URL": external_postgres.url("orchestrator"),
        "HUBSPOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "JWT_SECRET": JWT_SECRET,
        "WEBHOOK_PUBLIC_URL": PUBLIC_WEBHOOK_URL,
    }
    logs = tmp_path_factory.mktemp("replicas")
    with ThreadPoolExecutor(max_workers=2) as pool:
        starting = [
            pool.submit(start_live_server, env=env, log_path=logs / f"replica-{name}.log")
            for name in ("a", "b")
        ]
        started: list[LiveServer] = []
        failures: list[BaseException] = []
        for future in starting:
            try:
                started.append(future.result())
            except Exception as exc:  # the other may have started: stop it below
                failures.append(exc)
    try:
        if failures:
            raise failures[0]
        a, b = started
        yield a, b
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def external_db(external_postgres: ExternalPostgres) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(external_postgres.url("orchestrator"), autocommit=True) as conn:
        yield conn


def api_login(server: LiveServer, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/api/auth/token",
        data={"username": email, "password": password},
        timeout=30.0,
    )


def form_login(server: LiveServer, email: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        response: httpx.Response = console_login(client, email, password)
        return response


def test_both_replicas_are_ready_on_the_external_server(
    replicas: tuple[LiveServer, LiveServer], external_postgres: ExternalPostgres
) -> None:
    for server in replicas:
        ready = httpx.get(f"{server.base_url}/health/ready", timeout=10.0)
        assert ready.status_code == 200, ready.text
        assert ready.json()["migrations"]["status"] == "ok"
    # Started at once on the empty database: one applied the migrations, the other waited.
    first = [s for s in replicas if "Running upgrade  -> 0001" in s.log_path.read_text()]
    assert len(first) == 1
    with psycopg.connect(external_postgres.url("orchestrator")) as conn:
        row = conn.execute("SELECT version(), current_setting('port')").fetchone()
    assert row is not None
    assert f"PostgreSQL {external_postgres.version}." in row[0]
    assert row[1] == str(external_postgres.port)


def test_failed_logins_alternating_between_replicas_count_once(
    replicas: tuple[LiveServer, LiveServer], external_db: psycopg.Connection[Any]
) -> None:
    a, b = replicas
    email = "alternating@orchestrator.example"
    add_user(external_db, email, "operator")
    # API token endpoint on A, the console's login form on B, in turn.
    attempts = [
        (api_login, a),
        (form_login, b),
        (api_login, a),
        (form_login, b),
        (api_login, a),
    ]
    assert len(attempts) == PER_ACCOUNT
    for login, server in attempts:
        assert login(server, email, WRONG_PASSWORD).status_code == 401

    # The limit is reached in total: refused everywhere, even with the right password.
    for login, server in [(api_login, b), (api_login, a), (form_login, a), (form_login, b)]:
        limited = login(server, email, TEST_PASSWORD)
        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 60
    failures = external_db.execute(
        "SELECT count(*) FROM orchestrator.audit_log"
        " WHERE action = 'auth.login_failed' AND actor = %s",
        (f"login:{email}",),
    ).fetchone()
    assert failures == (PER_ACCOUNT,)  # the refused attempts never reached a password check
    counted = external_db.execute(
        "SELECT count(*) FROM orchestrator.login_failures WHERE key = 'account 127.0.0.1 ' || %s",
        (email,),
    ).fetchone()
    assert counted == (PER_ACCOUNT,)


def test_simultaneous_failures_on_both_replicas_never_pass_the_limit(
    replicas: tuple[LiveServer, LiveServer], external_db: psycopg.Connection[Any]
) -> None:
    email = "simultaneous@orchestrator.example"
    add_user(external_db, email, "operator")

    async def attempt_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30.0) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        f"{server.base_url}/api/auth/token",
                        data={"username": email, "password": WRONG_PASSWORD},
                    )
                    for server in replicas * 6
                )
            )

    statuses = sorted(r.status_code for r in asyncio.run(attempt_all()))
    # Each replica alone would have let 5 through, 10 between them: exactly 5 are checked.
    assert statuses == [401] * PER_ACCOUNT + [429] * (12 - PER_ACCOUNT)


def test_a_backlog_spread_over_both_replicas_stores_every_event_once(
    replicas: tuple[LiveServer, LiveServer], external_db: psycopg.Connection[Any]
) -> None:
    events = [hubspot_event(objectId=9_100 + i) for i in range(60)]
    deliveries = [events[i : i + 5] for i in range(0, 60, 5)]  # 12 of 5 events
    # Each delivery to one replica, in turn; every third also to the other at the same moment
    # (HubSpot's retry after a timeout); and one delivery overlapping two others, to both.
    sends = [(delivery, replicas[n % 2]) for n, delivery in enumerate(deliveries)]
    sends += [
        (delivery, replicas[(n + 1) % 2]) for n, delivery in enumerate(deliveries) if n % 3 == 0
    ]
    sends += [(events[8:17], server) for server in replicas]
    bodies = [delivery_body(delivery) for delivery, _ in sends]

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30.0) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        server.webhook_url,
                        content=body,
                        headers=signed_headers(body, PUBLIC_WEBHOOK_URL, WEBHOOK_SECRET),
                    )
                    for body, (_, server) in zip(bodies, sends, strict=True)
                )
            )

    responses = asyncio.run(send_all())
    assert [r.status_code for r in responses] == [200] * len(sends)
    by_replica = {server.port: 0 for server in replicas}
    for (_, server), response in zip(sends, responses, strict=True):
        by_replica[server.port] += response.json()["stored"]
    assert sum(by_replica.values()) == 60
    assert all(stored > 0 for stored in by_replica.values()), by_replica  # both did work

    ids = [e["eventId"] for e in events]
    rows = external_db.execute(
        "SELECT event_id, delivery_count FROM orchestrator.event_envelopes"
        " WHERE event_id = ANY(%s)",
        (ids,),
    ).fetchall()
    assert sorted(event_id for event_id, _ in rows) == sorted(ids)  # each once
    sent = sum(len(delivery) for delivery, _ in sends)
    assert sum(count for _, count in rows) == sent  # every copy seen, none stored twice
    envelope_ids = {e["envelope_id"] for response in responses for e in response.json()["events"]}
    assert len(envelope_ids) == 60  # both replicas answered with the same envelopes
