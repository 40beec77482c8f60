"""Console login, sessions and their end: the cookie's flags, the login form's own CSRF token,
the API's login limits and audit rows, logout, idle and absolute expiry, a disabled account,
a changed password, and where a login may send the browser next."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ingest_api.app import create_app
from ingest_api.console.rendering import HTMX_FILE
from orchestrator_core.settings import Settings
from tests.conftest import make_settings, settings_url
from tests.console.support import console_login, csrf_token, signed_in_console
from tests.support import ApiUsers

COOKIE = "orchestrator_console"


def audit_actions(db: psycopg.Connection[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (row[0], row[1], row[2])
        for row in db.execute(
            "SELECT action, actor, after FROM orchestrator.audit_log ORDER BY seq"
        ).fetchall()
    ]


def test_a_login_opens_a_session_with_a_safe_cookie_and_an_audit_row(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    response = console_login(client, api_users.emails["operator"])
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/console", "samesite=lax"} <= flags
    assert "secure" not in flags  # plain HTTP here; HTTPS gets Secure (below)
    assert not any(flag.startswith(("max-age", "expires")) for flag in flags)  # browser session
    token = cookie.split(";")[0].split("=", 1)[1]
    # The table keeps a digest, never the token.
    stored = db.execute("SELECT token_hash, user_id FROM orchestrator.console_sessions").fetchall()
    assert len(stored) == 1 and stored[0][1] == api_users.ids["operator"]
    assert token.encode() not in bytes(stored[0][0])
    action, actor, after = audit_actions(db)[-1]
    assert (action, actor) == ("auth.login_succeeded", f"user:{api_users.emails['operator']}")
    assert after["channel"] == "console" and "session_expires_at" in after
    page = client.get("/console")
    assert page.status_code == 200
    assert 'data-testid="viewer-role">operator<' in page.text


def test_over_https_the_cookie_is_secure(
    settings: Settings, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    with TestClient(
        create_app(settings, settings_url(settings)), base_url="https://testserver"
    ) as https:
        response = console_login(https, api_users.emails["viewer"])
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert "secure" in cookie.lower()


def test_a_wrong_password_is_refused_in_the_page_and_audited(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    response = console_login(client, api_users.emails["operator"], "not the password at all")
    assert response.status_code == 401
    assert 'data-testid="login-error"' in response.text
    assert "incorrect email or password" in response.text
    assert "not the password" not in response.text
    assert api_users.emails["operator"] in response.text  # the email is kept in the form
    assert f"{COOKIE}=" not in response.headers.get("set-cookie", "")
    assert audit_actions(db)[-1][0] == "auth.login_failed"
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_login_attempts_are_throttled_like_the_api_s(
    database_url: str, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    settings = make_settings(database_url, login_limit_per_account="2/minute")
    with TestClient(create_app(settings, settings_url(settings))) as client:
        email = api_users.emails["admin"]
        assert console_login(client, email, "wrong password one").status_code == 401
        assert console_login(client, email, "wrong password two").status_code == 401
        throttled = console_login(client, email)  # even the right password waits
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) > 0
        assert "too many login attempts" in throttled.text
        # The API's token endpoint counts the same failures.
        api = client.post("/api/auth/token", data={"username": email, "password": "x" * 12})
        assert api.status_code == 429


def test_the_login_form_needs_its_own_token(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": api_users.emails["admin"], "password": "correct horse battery staple"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "came from elsewhere" in response.text
    forged = client.post(
        "/console/login",
        data={
            "username": api_users.emails["admin"],
            "password": "correct horse battery staple",
            "csrf_token": "guessed",
        },
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert db.execute("SELECT count(*) FROM orchestrator.console_sessions").fetchone() == (0,)


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/console/runs?status=failed", "/console/runs?status=failed"),
        ("https://evil.example/console", "/console"),
        ("//evil.example/console", "/console"),
        ("/api/users", "/console"),
        ("/console\\@evil.example", "/console"),
        ("/console/login", "/console"),
    ],
)
def test_a_login_returns_only_to_a_console_page(
    client: TestClient, api_users: ApiUsers, target: str, landing: str
) -> None:
    form = client.get("/console/login", params={"next": target})
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    response = client.post(
        "/console/login",
        data={
            "username": api_users.emails["viewer"],
            "password": "correct horse battery staple",
            "csrf_token": token.group(1),
            "next": target,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == landing


def test_a_page_without_a_session_sends_to_the_login_and_back(
    client: TestClient, api_users: ApiUsers
) -> None:
    response = client.get("/console/runs?status=failed", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Fruns%3Fstatus%3Dfailed"
    # A part of a page asked for by HTMX: HTMX goes to the login itself.
    partial = client.get("/console/live", headers={"HX-Request": "true"})
    assert partial.status_code == 401
    assert partial.headers["hx-redirect"] == "/console/login"


def test_logout_ends_the_session_for_good(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    cookie = client.cookies[COOKIE]
    response = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    assert audit_actions(db)[-1][0] == "auth.logout"
    # The old cookie, replayed, opens nothing.
    client.cookies.set(COOKIE, cookie, path="/console")
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert db.execute("SELECT ended_reason FROM orchestrator.console_sessions").fetchone() == (
        "logout",
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            "UPDATE orchestrator.console_sessions SET last_seen_at = now() - interval '61 minutes'",
            "idle",
        ),
        (
            "UPDATE orchestrator.console_sessions SET expires_at = now() - interval '1 second'",
            "expired",
        ),
        ("UPDATE orchestrator.users SET disabled_at = now()", "refused"),
        (
            "UPDATE orchestrator.users SET password_changed_at = now() + interval '1 second'",
            "refused",
        ),
    ],
    ids=["idle", "past-its-expiry", "account-disabled", "password-changed"],
)
def test_a_session_ends(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, change: str, reason: str
) -> None:
    signed_in_console(client, api_users.emails["admin"])
    db.execute(change)
    response = client.get("/console", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
    assert db.execute("SELECT ended_reason FROM orchestrator.console_sessions").fetchone() == (
        reason,
    )


def test_a_session_lasts_while_in_use(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    signed_in_console(client, api_users.emails["admin"])
    db.execute(
        "UPDATE orchestrator.console_sessions SET last_seen_at = now() - interval '59 minutes'"
    )
    assert client.get("/console").status_code == 200  # the idle clock restarts
    row = db.execute(
        "SELECT now() - last_seen_at < interval '1 minute' FROM orchestrator.console_sessions"
    ).fetchone()
    assert row == (True,)


def test_an_oversized_form_is_refused_before_it_is_read(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["admin"])
    response = client.post(
        "/console/logout",
        content=b"csrf_token=" + token.encode() + b"&pad=" + b"x" * 100_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 413
    assert "at most 65536 bytes" in response.text
    login = client.post(
        "/console/login",
        content=b"username=a&password=" + b"x" * 100_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert login.status_code == 413
    assert client.get("/console", follow_redirects=False).status_code == 200


def test_pages_are_not_cached_framed_or_scripted_from_elsewhere(
    client: TestClient, api_users: ApiUsers
) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    for path in ("/console", "/console/login"):
        headers = client.get(path).headers
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy


def test_the_front_end_files_come_from_the_product_with_their_licence(
    client: TestClient, api_users: ApiUsers
) -> None:
    signed_in_console(client, api_users.emails["viewer"])
    page = client.get("/console").text
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == [f"/console/static/{HTMX_FILE}", "/console/static/console.js"]
    assert "<script>" not in page  # nothing inline
    htmx = client.get(f"/console/static/{HTMX_FILE}")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:2000]
    licence = client.get("/console/static/htmx-LICENSE.txt")
    assert licence.status_code == 200 and "Zero-Clause BSD" in licence.text
    assert csrf_token(client)
