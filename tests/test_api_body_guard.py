"""An `/api` body is read only when its headers allow it: a declared length within
API_MAX_BODY_BYTES (413), a Content-Length at all (411), a valid token outside the login (401).
Over a real socket, the refusals come back while the body is still unsent."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest_api.app import create_app
from tests.conftest import JWT_SECRET, make_settings
from tests.support import TEST_PASSWORD, ApiUsers, LiveServer, add_api_users

LIMIT = 2_000


@pytest.fixture
def small(database_url: str, db: Any) -> Any:
    settings = make_settings(database_url, api_max_body_bytes=LIMIT)
    with TestClient(create_app(settings, database_url)) as client:
        yield client


def assert_error(response: Any, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    for word in words:
        assert word in error["message"]


def test_a_body_over_the_limit_is_413_even_with_a_good_token(small: TestClient, db: Any) -> None:
    users = add_api_users(db, JWT_SECRET)
    note = "x" * LIMIT
    response = small.patch(
        "/api/approvals/1/decision",
        json={"decision": "approve", "note": note},
        headers=users["operator"],
    )
    assert_error(response, 413, "payload_too_large", f"{LIMIT} bytes", "API_MAX_BODY_BYTES")


def test_a_chunked_body_is_411(small: TestClient, db: Any) -> None:
    users = add_api_users(db, JWT_SECRET)

    def chunks() -> Any:
        yield b'{"decision": '
        yield b'"approved"}'

    response = small.patch(
        "/api/approvals/1/decision",
        content=chunks(),
        headers={**users["operator"], "Content-Type": "application/json"},
    )
    assert_error(response, 411, "length_required", "Content-Length")


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "unauthenticated"),
        ({"Authorization": "Bearer not-a-token"}, "invalid_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "unauthenticated"),
    ],
    ids=["no token", "forged token", "another scheme"],
)
def test_a_body_without_a_valid_token_is_401_before_it_is_parsed(
    small: TestClient, db: Any, headers: dict[str, str], code: str
) -> None:
    # Not even JSON: parsed first, it would be a 422.
    response = small.patch(
        "/api/approvals/1/decision",
        content=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_error(response, 401, code)
    assert response.headers["www-authenticate"] == "Bearer"


def test_with_a_valid_token_the_body_is_read_as_before(small: TestClient, db: Any) -> None:
    users = add_api_users(db, JWT_SECRET)
    broken = small.patch(
        "/api/approvals/1/decision",
        content=b"{not json",
        headers={**users["operator"], "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    missing = small.patch(
        "/api/approvals/999/decision", json={"decision": "approve"}, headers=users["operator"]
    )
    assert missing.status_code == 404


def test_the_login_needs_no_token_for_its_body(small: TestClient, db: Any) -> None:
    users: ApiUsers = add_api_users(db, JWT_SECRET)
    response = small.post(
        "/api/auth/token", data={"username": users.emails["viewer"], "password": TEST_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


def _status_line_before_the_body(server: LiveServer, head: str) -> str:
    """Send a request's head (no body) and read the status line that comes back."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(head.encode("latin-1"))
        return conn.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_over_the_wire_the_refusal_does_not_wait_for_the_body(live_server: LiveServer) -> None:
    huge = (
        "PATCH /api/approvals/1/decision HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
    )
    assert (
        _status_line_before_the_body(live_server, huge) == "HTTP/1.1 413 Request Entity Too Large"
    )
    anonymous = huge.replace("104857600", "50000")
    assert _status_line_before_the_body(live_server, anonymous) == "HTTP/1.1 401 Unauthorized"
