"""What a request writes is committed before its response starts: a client that acts on the
answer at once (a browser following the login's redirect, HubSpot counting a delivery as done)
always finds the write. Seen from a second connection at the moment the status line goes out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest_api.app import create_app
from orchestrator_core.settings import Settings
from tests.conftest import WEBHOOK_SECRET, settings_url
from tests.console.support import console_login
from tests.support import ApiUsers, delivery_body, hubspot_event, signed_headers

Probe = Callable[[], int]


class CommittedAtResponseStart:
    """The app, with `probe` (a count from another connection) read as each response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.probe: Probe = lambda: 0
        self.counts: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_probed(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.counts.append(self.probe())
            await send(message)

        await self.app(scope, receive, send_probed)


@pytest.fixture
def probed(
    db: psycopg.Connection[Any], settings: Settings
) -> Iterator[tuple[TestClient, CommittedAtResponseStart]]:
    app = CommittedAtResponseStart(create_app(settings, settings_url(settings)))
    with TestClient(app) as client:
        yield client, app


def counter(db: psycopg.Connection[Any], table: str) -> Probe:
    return lambda: int(db.execute(f"SELECT count(*) FROM orchestrator.{table}").fetchone()[0])  # type: ignore[index]


def test_a_console_session_exists_when_the_login_redirect_goes_out(
    probed: tuple[TestClient, CommittedAtResponseStart],
    db: psycopg.Connection[Any],
    api_users: ApiUsers,
) -> None:
    client, app = probed
    app.probe = counter(db, "console_sessions")
    response = console_login(client, api_users.emails["operator"])
    assert response.status_code == 303
    assert app.counts[-1] == 1


def test_an_envelope_is_committed_when_the_webhook_answers(
    probed: tuple[TestClient, CommittedAtResponseStart], db: psycopg.Connection[Any]
) -> None:
    client, app = probed
    app.probe = counter(db, "event_envelopes")
    body = delivery_body([hubspot_event("company.creation", objectId=9101)])
    url = "http://testserver/webhooks/hubspot"
    response = client.post(
        "/webhooks/hubspot", content=body, headers=signed_headers(body, url, WEBHOOK_SECRET)
    )
    assert response.status_code == 200, response.text
    assert app.counts[-1] == 1


def test_a_created_user_is_committed_when_the_api_answers(
    probed: tuple[TestClient, CommittedAtResponseStart],
    db: psycopg.Connection[Any],
    api_users: ApiUsers,
) -> None:
    client, app = probed
    before = counter(db, "users")()
    app.probe = counter(db, "users")
    body = {"email": "new.person@example.org", "role": "viewer", "password": "a long passphrase 1"}
    response = client.post("/api/users", json=body, headers=api_users["admin"])
    assert response.status_code == 201, response.text
    assert app.counts[-1] == before + 1
