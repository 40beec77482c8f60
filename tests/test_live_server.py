"""Against the real `orchestrator serve` process: concurrency, restarts, logs."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import httpx
import pytest

from tests.conftest import JWT_SECRET, WEBHOOK_SECRET
from tests.support import (
    LiveServer,
    count_rows,
    delivery_body,
    hubspot_event,
    signed_headers,
    signed_in,
    start_live_server,
)


async def _post_all(server: LiveServer, bodies: list[bytes]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as http:
        return await asyncio.gather(
            *(
                http.post(
                    server.webhook_url,
                    content=body,
                    headers=signed_headers(body, server.webhook_url, WEBHOOK_SECRET),
                )
                for body in bodies
            )
        )


def test_concurrent_identical_and_overlapping_deliveries_store_each_event_once(
    live_server: LiveServer, db: Any
) -> None:
    events = [hubspot_event(objectId=100 + i) for i in range(60)]
    identical = [delivery_body(events)] * 8
    # Overlapping deliveries in opposite orders: the insert order prevents deadlocks.
    overlapping = [delivery_body(events[:40]), delivery_body(list(reversed(events[20:])))] * 4

    responses = asyncio.run(_post_all(live_server, identical + overlapping))

    assert [r.status_code for r in responses] == [200] * 16
    assert sum(r.json()["stored"] for r in responses) == 60
    assert count_rows(db, "event_envelopes") == 60
    total = db.execute("SELECT sum(delivery_count) FROM orchestrator.event_envelopes").fetchone()
    assert total == (8 * 60 + 4 * 40 + 4 * 40,)


def test_events_accepted_before_a_crash_are_there_after_restart(
    live_server: LiveServer, db: Any, database_url: str, tmp_path: Any
) -> None:
    accepted: list[int] = []
    with httpx.Client(timeout=10) as http:
        for batch in range(10):
            events = [hubspot_event(objectId=1000 * batch + i) for i in range(100)]
            body = delivery_body(events)
            response = http.post(
                live_server.webhook_url,
                content=body,
                headers=signed_headers(body, live_server.webhook_url, WEBHOOK_SECRET),
            )
            assert response.status_code == 200
            accepted += [e["envelope_id"] for e in response.json()["events"]]

    live_server.stop(signal.SIGKILL)  # no graceful shutdown: only commits count
    restarted = start_live_server(
        env=live_server.env, log_path=tmp_path / "restarted.log", port=live_server.port
    )
    viewer = signed_in(db, "viewer@orchestrator.example", "viewer", secret=JWT_SECRET)
    try:
        with httpx.Client(base_url=restarted.base_url, timeout=10, headers=viewer) as http:
            seen: set[int] = set()
            cursor = None
            while True:
                params: dict[str, Any] = {"limit": 500, **({"before_id": cursor} if cursor else {})}
                page = http.get("/api/events", params=params).json()
                seen |= {item["id"] for item in page["items"]}
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        assert len(accepted) == 1000
        assert seen == set(accepted)
    finally:
        assert restarted.stop(signal.SIGTERM) == 0  # graceful stop exits cleanly


def test_every_log_line_is_json_and_request_lines_carry_the_request_id(
    live_server: LiveServer,
) -> None:
    body = delivery_body([hubspot_event()])
    with httpx.Client(timeout=10) as http:
        http.post(
            live_server.webhook_url,
            content=body,
            headers={
                **signed_headers(body, live_server.webhook_url, WEBHOOK_SECRET),
                "X-Request-ID": "req-abc-123",
            },
        )
        bad = http.post(
            live_server.webhook_url, content=body, headers={"Content-Type": "application/json"}
        )
    assert bad.status_code == 401
    generated = bad.headers["x-request-id"]
    assert bad.json()["request_id"] == generated
    live_server.stop()

    lines = [json.loads(line) for line in live_server.log_lines()]
    assert lines, "the server logged nothing"
    assert all("request_id" in line and "timestamp" in line and "level" in line for line in lines)
    mine = [line for line in lines if line["request_id"] == "req-abc-123"]
    assert {line["event"] for line in mine} == {"delivery stored", "request"}
    rejected = [line for line in lines if line["request_id"] == generated]
    assert {line["event"] for line in rejected} == {"webhook signature rejected", "request"}
    assert WEBHOOK_SECRET not in live_server.log_path.read_text()


@pytest.mark.parametrize(
    ("trusted", "address"), [(None, "127.0.0.1"), ("127.0.0.1", "203.0.113.9")]
)
def test_x_forwarded_for_is_believed_only_from_the_proxies_named(
    db: Any, database_url: str, tmp_path: Any, trusted: str | None, address: str
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "HUBSPOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "JWT_SECRET": JWT_SECRET,
        **({"FORWARDED_ALLOW_IPS": trusted} if trusted else {}),
    }
    server = start_live_server(env=env, log_path=tmp_path / "serve.log")
    try:
        answer = httpx.post(
            f"{server.base_url}/api/auth/token",
            data={"username": "nobody@harborlabs.example", "password": "not a password"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    finally:
        server.stop()

    assert answer.status_code == 401
    rows = db.execute(
        "SELECT after->>'address' FROM orchestrator.audit_log WHERE action = 'auth.login_failed'"
    ).fetchall()
    assert rows == [(address,)]
