"""Helpers shared by the tests: signed deliveries, HubSpot-shaped events, a live server."""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import orjson
import psutil
import psycopg

from ingest_api.signature import sign
from orchestrator_core.logging import configure_logging
from orchestrator_core.records.approval_rules import Decider
from orchestrator_core.records.approvals import Approval, record_decision

_event_ids = itertools.count(50_000_000)
T = TypeVar("T")
PORTAL_ID = 62515
BASE_OCCURRED_AT = 1_795_510_800_000  # 2026-11-24T09:00:00Z in epoch ms


def hubspot_event(subscription_type: str = "contact.creation", **fields: Any) -> dict[str, Any]:
    """An event shaped like HubSpot's, with a fresh eventId unless one is given."""
    event: dict[str, Any] = {
        "eventId": next(_event_ids),
        "subscriptionId": 1201,
        "portalId": PORTAL_ID,
        "appId": 54321,
        "occurredAt": BASE_OCCURRED_AT,
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "changeSource": "CRM_UI",
        "sourceId": "userId:45678",
    }
    if "objectId" not in fields and not subscription_type.endswith("associationChange"):
        event["objectId"] = 7001
    event.update(fields)
    return event


def signed_headers(
    body: bytes | str, uri: str, secret: str, versions: tuple[str, ...] = ("v1", "v3")
) -> dict[str, str]:
    text = body.decode() if isinstance(body, bytes) else body
    return {
        "Content-Type": "application/json",
        **sign(secret=secret, body=text, uri=uri, versions=versions),
    }


def delivery_body(events: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(events)


def ingest_events(database_url: str, events: list[dict[str, Any]]) -> list[int]:
    """Store a delivery as the webhook route does (parse, then one transaction); returns the
    envelope id of each event, in order."""
    import asyncio

    from orchestrator_core.events.envelope import parse_delivery
    from orchestrator_core.events.store import store_delivery

    delivery = parse_delivery(events, correlation_window_seconds=60)

    async def store() -> list[int]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            result = await store_delivery(
                conn, delivery=delivery, signature_version="v3", request_id=None
            )
        return [e.envelope_id for e in result.events]

    return asyncio.run(store())


def decide_approval(
    database_url: str,
    approval_id: int,
    *,
    verdict: Literal["approve", "reject"],
    decider: Decider,
    note: str | None = None,
    edits: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Approval:
    """Decide an approval as the API does (the same function, its rules and audit row)."""
    import asyncio

    async def decide() -> Approval | None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            return await record_decision(
                conn,
                approval_id,
                verdict=verdict,
                decider=decider,
                note=note,
                edits=edits,
                now=now,
            )

    decided = asyncio.run(decide())
    assert decided is not None, f"no approval {approval_id}"
    return decided


def dagster_link(dagster_run_id: str) -> str:
    """The API's link to a Dagster run under the tests' DAGSTER_UI."""
    return f"https://dagster.ops.example/runs/{dagster_run_id}"


def workflow_run_id(db: psycopg.Connection[Any], workflow: str, object_id: int) -> int:
    row = db.execute(
        "SELECT id FROM orchestrator.workflow_runs WHERE workflow = %s AND object_id = %s",
        (workflow, object_id),
    ).fetchone()
    assert row is not None
    return int(row[0])


def post_delivery(client: Any, events: list[dict[str, Any]], secret: str) -> list[int]:
    """Store a signed delivery through the app's webhook; returns the envelope ids."""
    body = delivery_body(events)
    uri = "http://testserver/webhooks/hubspot"
    response = client.post(
        "/webhooks/hubspot", content=body, headers=signed_headers(body, uri, secret)
    )
    assert response.status_code == 200, response.text
    return [e["envelope_id"] for e in response.json()["events"]]


@contextlib.contextmanager
def json_log_lines(level: str = "INFO") -> Iterator[list[dict[str, Any]]]:
    """Every log line of this process while in the block, as the product renders it (JSON),
    parsed into the list on exit; the process's logging is restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging(level)
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        lines += [json.loads(line) for line in captured.getvalue().splitlines() if line]


def count_rows(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM orchestrator.{table}").fetchone()
    assert row is not None
    return int(row[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/hubspot"

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill_all(self) -> None:
        """kill -9 of serve and every worker process below it, at once: nothing graceful."""
        try:
            tree = [
                psutil.Process(self.process.pid),
                *psutil.Process(self.process.pid).children(recursive=True),
            ]
        except psutil.NoSuchProcess:
            tree = []
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.process.wait()
        psutil.wait_procs(tree, timeout=10)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()


def start_live_server(
    env: dict[str, str],
    log_path: Path,
    port: int | None = None,
    timeout: float = 60.0,
    workers: int = 1,
) -> LiveServer:
    """Start `orchestrator serve` and wait until /health answers 200."""
    port = port or free_port()
    full_env = {**os.environ, **env}
    log = log_path.open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator_cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(process=process, port=port, log_path=log_path, env=env, workers=workers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"serve did not become healthy:\n{log_path.read_text()}")


@dataclass
class DevStack:
    """`orchestrator dev` as a real process on free loopback ports, with its own home."""

    process: subprocess.Popen[str]
    home: Path
    api_port: int
    dagster_port: int
    sandbox_port: int
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def admin_password(self) -> str:
        """The password `orchestrator dev` gave its admin (DEV_ADMIN_EMAIL) on first start."""
        return (self.home / "dev_admin_password").read_text(encoding="utf-8").strip()

    @property
    def health_urls(self) -> list[str]:
        return [
            f"{self.api_url}/health",
            f"http://127.0.0.1:{self.dagster_port}/server_info",
            f"{self.sandbox_url}/_sandbox/health",
        ]

    def stop(self, timeout: float = 90.0, presses: int = 1) -> str:
        """Ctrl-C (`presses` times, half a second apart, as an impatient user does), then
        everything it printed (stdout and stderr)."""
        for press in range(presses):
            if press:
                time.sleep(0.5)
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.reader is not None:
            self.reader.join(timeout=10)
        return "".join(self.output)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


READY_LINE = "Running; Ctrl-C stops everything."


def start_dev_stack(
    home: Path, *, secret: str, timeout: float = 180.0, extra_env: dict[str, str] | None = None
) -> DevStack:
    """Start `orchestrator dev` from a fresh home (embedded Postgres) and wait until it says it
    is running."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DAGSTER_HOME", "LOG_LEVEL")
    }
    env.update({"ORCHESTRATOR_HOME": str(home), "HUBSPOT_WEBHOOK_SECRET": secret})
    env.update(extra_env or {})
    ports = free_port(), free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator_cli",
            "dev",
            "--api-port",
            str(ports[0]),
            "--dagster-port",
            str(ports[1]),
            "--sandbox-port",
            str(ports[2]),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = DevStack(process, home, *ports)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.output.append(line)

    stack.reader = threading.Thread(target=read, daemon=True)
    stack.reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"orchestrator dev exited: {stack.stop()}")
        if any(READY_LINE in line for line in stack.output):
            return stack
        time.sleep(0.5)
    raise RuntimeError(f"orchestrator dev did not start: {stack.stop()}")


def eventually(check: Callable[[], T | None], timeout: float = 120.0, *, what: str = "") -> T:
    """`check()`'s first truthy value, polled every half second; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f} s: {what or check}")


# --- API users and their tokens ---------------------------------------------------------------

TEST_PASSWORD = "correct horse battery staple"


@functools.cache
def _test_password_hash() -> str:
    from pwdlib import PasswordHash

    return PasswordHash.recommended().hash(TEST_PASSWORD)  # once per session: argon2 is slow


def add_user(
    conn: psycopg.Connection[Any], email: str, role: str, *, disabled: bool = False
) -> int:
    """A user row whose password is TEST_PASSWORD (written directly: no audit row)."""
    row = conn.execute(
        "INSERT INTO orchestrator.users (email, role, password_hash, disabled_at)"
        " VALUES (%s, %s, %s, CASE WHEN %s THEN now() END) RETURNING id",
        (email, role, _test_password_hash(), disabled),
    ).fetchone()
    assert row is not None
    return int(row[0])


def bearer(
    user_id: int,
    email: str,
    role: str,
    *,
    secret: str,
    ttl_seconds: float = 600,
    now: datetime | None = None,
) -> dict[str, str]:
    """The Authorization header of a token for this user, as `POST /api/auth/token` issues."""
    from ingest_api.auth.tokens import issue_token
    from orchestrator_core.users import User

    stamp = datetime.now(UTC)
    user = User(user_id, email, role, stamp, stamp, None, stamp)
    token, _ = issue_token(user, secret=secret, ttl=timedelta(seconds=ttl_seconds), now=now)
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class ApiUsers:
    """One enabled user per role, with their Authorization headers."""

    ids: dict[str, int]
    emails: dict[str, str]
    headers: dict[str, dict[str, str]]

    def __getitem__(self, role: str) -> dict[str, str]:
        return self.headers[role]


def signed_in(
    conn: psycopg.Connection[Any], email: str, role: str, *, secret: str, disabled: bool = False
) -> dict[str, str]:
    """A new user (password TEST_PASSWORD) and the Authorization header of a token for them."""
    return bearer(add_user(conn, email, role, disabled=disabled), email, role, secret=secret)


def log_in(base_url: str, email: str, password: str) -> dict[str, str]:
    """`POST /api/auth/token` as a client does; the Authorization header of the token."""
    response = httpx.post(
        f"{base_url}/api/auth/token",
        data={"username": email, "password": password},
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def add_api_users(
    conn: psycopg.Connection[Any], secret: str, domain: str = "orchestrator.example"
) -> ApiUsers:
    ids, emails, headers = {}, {}, {}
    for role in ("viewer", "operator", "admin"):
        email = f"{role}@{domain}"
        ids[role] = add_user(conn, email, role)
        emails[role] = email
        headers[role] = bearer(ids[role], email, role, secret=secret)
    return ApiUsers(ids, emails, headers)
