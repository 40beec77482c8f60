"""Login: `POST /api/auth/token` (the OAuth2 password form) → a bearer token for `/api/auth/me`
and the rest; one answer for every failed login, each audited without the password; rate
limits per account and per address; and an app that refuses to start without a real secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from pydantic import ValidationError

from ingest_api.app import create_app
from ingest_api.auth.tokens import ALGORITHM, AUDIENCE, ISSUER, InsecureSecretError
from orchestrator_core.logging import configure_logging
from tests.conftest import JWT_SECRET, make_settings
from tests.support import TEST_PASSWORD, ApiUsers, add_user, bearer

TOKEN_URL = "/api/auth/token"
WRONG_PASSWORD = "Tr0ub4dor&3-not-it"


def log_in(client: TestClient, email: str, password: str = TEST_PASSWORD) -> Any:
    return client.post(TOKEN_URL, data={"username": email, "password": password})


def authorization(response: Any) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def login_failures(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT actor, action, entity_type, entity_id, before, after, row_hash::text"
            " FROM orchestrator.audit_log WHERE action = 'auth.login_failed' ORDER BY seq"
        ).fetchall()


def audit_text(db: psycopg.Connection[Any]) -> str:
    """The whole audit log as text, to search for what must not be in it."""
    row = db.execute(
        "SELECT coalesce(string_agg(a::text, E'\\n'), '') FROM orchestrator.audit_log a"
    ).fetchone()
    assert row is not None
    return str(row[0])


# -- logging in -----------------------------------------------------------------------------


def test_the_password_grant_gives_a_token_for_the_account(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    before = datetime.now(UTC)
    response = log_in(client, "Operator@Orchestrator.example ")  # any case, stray spaces
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_at", "expires_in", "role"}
    assert (body["token_type"], body["role"], body["expires_in"]) == ("bearer", "operator", 1800)
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(minutes=30) <= expires_at <= datetime.now(UTC) + timedelta(minutes=30)
    assert response.headers["cache-control"] == "no-store"  # RFC 6749 5.1: never cached

    me = client.get("/api/auth/me", headers=authorization(response))
    assert me.status_code == 200, me.text
    assert me.json() == {
        "id": api_users.ids["operator"],
        "email": "operator@orchestrator.example",
        "role": "operator",
    }
    # The token is an HS256 JWT for this API, naming the account.
    claims = jwt.decode(
        body["access_token"], JWT_SECRET, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER
    )
    assert claims["sub"] == str(api_users.ids["operator"])
    assert claims["role"] == "operator"
    assert login_failures(db) == []


def test_me_shows_the_account_as_it_is_now(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    token = authorization(log_in(client, api_users.emails["viewer"]))
    db.execute(
        "UPDATE orchestrator.users SET role = 'operator' WHERE id = %s", (api_users.ids["viewer"],)
    )
    assert client.get("/api/auth/me", headers=token).json()["role"] == "operator"


@pytest.mark.parametrize(
    ("case", "email", "password", "reason"),
    [
        ("wrong-password", "operator@orchestrator.example", WRONG_PASSWORD, "wrong password"),
        ("unknown-email", "nobody@orchestrator.example", TEST_PASSWORD, "unknown email"),
        ("disabled-account", "gone@orchestrator.example", TEST_PASSWORD, "account disabled"),
    ],
)
def test_every_failed_login_gets_one_answer_and_one_audit_row(
    client: TestClient,
    db: psycopg.Connection[Any],
    api_users: ApiUsers,
    case: str,
    email: str,
    password: str,
    reason: str,
) -> None:
    gone = add_user(db, "gone@orchestrator.example", "operator", disabled=True)
    response = log_in(client, email, password)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    # The same for all three: nothing tells which accounts exist or are disabled.
    assert body["error"] == {
        "code": "invalid_credentials",
        "message": "incorrect email or password",
    }
    assert password not in response.text

    (row,) = login_failures(db)
    entity = {
        "wrong-password": str(api_users.ids["operator"]),
        "unknown-email": email,
        "disabled-account": str(gone),
    }[case]
    assert (row["actor"], row["entity_type"], row["entity_id"]) == (
        f"login:{email}",
        "user",
        entity,
    )
    assert row["before"] is None
    assert row["after"] == {"reason": reason, "address": "testclient"}
    assert password not in audit_text(db)


def test_the_password_never_reaches_the_logs(
    client: TestClient, api_users: ApiUsers, capfd: pytest.CaptureFixture[str]
) -> None:
    # As verbose as logging gets (an in-process CLI test may have left it at WARNING).
    configure_logging("DEBUG")
    try:
        assert log_in(client, api_users.emails["admin"], WRONG_PASSWORD).status_code == 401
        assert log_in(client, api_users.emails["admin"]).status_code == 200
    finally:
        configure_logging("INFO")
    out, err = capfd.readouterr()
    assert "request" in out + err  # the request lines are there ...
    assert WRONG_PASSWORD not in out + err and TEST_PASSWORD not in out + err  # ... not these


@pytest.mark.parametrize(
    ("request_kwargs", "fields"),
    [
        (
            {"json": {"username": "admin@orchestrator.example", "password": TEST_PASSWORD}},
            ["body.username", "body.password"],
        ),
        ({"data": {"username": "admin@orchestrator.example"}}, ["body.password"]),
        ({"data": {"password": TEST_PASSWORD}}, ["body.username"]),
        ({"data": {}}, ["body.username", "body.password"]),
    ],
    ids=["json-body", "no-password", "no-username", "empty-form"],
)
def test_the_login_takes_a_form(
    client: TestClient,
    db: psycopg.Connection[Any],
    api_users: ApiUsers,
    request_kwargs: dict[str, Any],
    fields: list[str],
) -> None:
    response = client.post(TOKEN_URL, **request_kwargs)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert sorted(d["field"] for d in error["details"]) == sorted(fields)
    assert TEST_PASSWORD not in response.text
    assert login_failures(db) == []


def test_an_expired_token_is_refused(client: TestClient, api_users: ApiUsers) -> None:
    expired = bearer(
        api_users.ids["viewer"],
        api_users.emails["viewer"],
        "viewer",
        secret=JWT_SECRET,
        ttl_seconds=30 * 60,
        now=datetime.now(UTC) - timedelta(minutes=31),
    )
    response = client.get("/api/auth/me", headers=expired)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "invalid_token"
    assert "expired" in error["message"]


def test_the_token_lives_jwt_ttl_minutes(database_url: str, db: psycopg.Connection[Any]) -> None:
    add_user(db, "viewer@orchestrator.example", "viewer")
    settings = make_settings(database_url, jwt_ttl_minutes=7)
    with TestClient(create_app(settings, database_url)) as client:
        body = log_in(client, "viewer@orchestrator.example").json()
    assert body["expires_in"] == 7 * 60
    claims = jwt.decode(
        body["access_token"], JWT_SECRET, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER
    )
    assert claims["exp"] - claims["iat"] == 7 * 60
    assert datetime.fromtimestamp(claims["exp"], UTC) == datetime.fromisoformat(
        body["expires_at"]
    ).replace(microsecond=0)


@pytest.mark.parametrize("minutes", [0, -5, 24 * 60 + 1])
def test_the_token_lifetime_is_bounded(database_url: str, minutes: int) -> None:
    with pytest.raises(ValidationError, match="jwt_ttl_minutes"):
        make_settings(database_url, jwt_ttl_minutes=minutes)


# -- rate limits ----------------------------------------------------------------------------


def test_the_sixth_failure_on_an_account_from_an_address_is_429_for_that_address_only(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    email = api_users.emails["operator"]
    for attempt in range(5):
        # Any spelling of the address counts against the same account.
        spelled = email.upper() if attempt % 2 else f" {email}"
        assert log_in(client, spelled, WRONG_PASSWORD).status_code == 401
    limited = log_in(client, email)  # even with the right password, from this address
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["code"] == "too_many_attempts"
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert f"retry in {retry_after} s" in limited.json()["error"]["message"]
    assert "access_token" not in limited.text
    assert len(login_failures(db)) == 5  # refused before the password is looked at

    # The other accounts from the same address are not locked out, and the account's owner
    # logs in from elsewhere: failures from one address lock nobody out.
    assert log_in(client, api_users.emails["viewer"]).status_code == 200
    elsewhere = TestClient(client.app, client=("203.0.113.7", 50000))
    assert log_in(elsewhere, email).status_code == 200


def test_successful_logins_are_not_counted(client: TestClient, api_users: ApiUsers) -> None:
    for _ in range(8):  # more than the per-account limit (5/minute)
        assert log_in(client, api_users.emails["operator"]).status_code == 200


def test_counts_no_window_sees_are_swept_and_a_success_is_released(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    db.execute(
        "INSERT INTO orchestrator.login_failures (key, at)"
        " VALUES ('address 198.51.100.9', now() - interval '2 hours')"
    )
    assert log_in(client, api_users.emails["viewer"], WRONG_PASSWORD).status_code == 401
    keys = db.execute("SELECT key FROM orchestrator.login_failures ORDER BY key").fetchall()
    # The stale row of another address is gone; the failure counts per account and address.
    assert keys == [
        (f"account testclient {api_users.emails['viewer']}",),
        ("address testclient",),
    ]
    assert log_in(client, api_users.emails["viewer"]).status_code == 200
    assert len(db.execute("SELECT key FROM orchestrator.login_failures").fetchall()) == 2


def test_too_many_failures_from_one_address_are_429(
    database_url: str, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    settings = make_settings(database_url, login_limit_per_address="3/minute")
    with TestClient(create_app(settings, database_url)) as client:
        assert log_in(client, api_users.emails["viewer"]).status_code == 200  # not counted
        assert log_in(client, api_users.emails["operator"], WRONG_PASSWORD).status_code == 401
        assert log_in(client, "nobody@orchestrator.example").status_code == 401
        assert log_in(client, api_users.emails["viewer"], WRONG_PASSWORD).status_code == 401
        limited = log_in(client, api_users.emails["admin"])  # a fresh account, the same address
        assert limited.status_code == 429, limited.text
        assert limited.json()["error"]["code"] == "too_many_attempts"
        assert int(limited.headers["retry-after"]) >= 1


@pytest.mark.parametrize("setting", ["login_limit_per_account", "login_limit_per_address"])
@pytest.mark.parametrize("value", ["5/fortnight", "lots", "-1/minute"])
def test_a_bad_rate_limit_setting_is_refused_naming_it(
    database_url: str, setting: str, value: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        make_settings(database_url, **{setting: value})
    assert setting in str(raised.value)


# -- the secret -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        (None, "is not set"),
        ("", "is shorter than 32 characters"),
        ("tJ7vQ2mX9pLw4RzK", "is shorter than 32 characters"),
        ("change-me-to-a-long-random-value-please", "looks like a placeholder"),
        ("your-jwt-secret-goes-here-0123456789", "looks like a placeholder"),
        ("ab" * 20, "looks like a placeholder"),
    ],
    ids=["missing", "empty", "short", "change-me", "placeholder-text", "repetitive"],
)
def test_the_app_refuses_to_start_without_a_real_jwt_secret(
    database_url: str, secret: str | None, words: str
) -> None:
    settings = make_settings(database_url, jwt_secret=secret)
    with pytest.raises(InsecureSecretError) as raised:
        create_app(settings, database_url)
    message = str(raised.value)
    assert message.startswith("JWT_SECRET ")
    assert words in message
    if secret:
        assert secret not in message  # never echoed


def test_a_token_signed_by_another_deployment_is_refused(
    database_url: str, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    """Rotating JWT_SECRET logs everyone out: tokens of the old secret stop working."""
    rotated = make_settings(database_url, jwt_secret="N4vB8qL1xW6cZ3mR7tY0pK5sD2hG9fJe7Ua")
    with TestClient(create_app(rotated, database_url)) as client:
        response = client.get("/api/auth/me", headers=api_users["admin"])
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
        assert authorization(log_in(client, api_users.emails["admin"]))


# -- the audit trail of logins ----------------------------------------------------------------


def test_a_login_is_audited_with_its_address_and_the_token_expiry(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    answer = log_in(client, api_users.emails["operator"])

    assert answer.status_code == 200
    with db.cursor(row_factory=dict_row) as cur:
        (row,) = cur.execute(
            "SELECT actor, entity_id, after FROM orchestrator.audit_log"
            " WHERE action = 'auth.login_succeeded'"
        ).fetchall()
    assert row["actor"] == f"user:{api_users.emails['operator']}"
    assert row["after"]["address"] == "testclient"
    assert row["after"]["token_expires_at"] == answer.json()["expires_at"].replace("Z", "+00:00")


def test_a_password_hash_upgraded_at_login_is_audited(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    from argon2 import PasswordHasher  # an older, cheaper parameter set

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(TEST_PASSWORD)
    email = api_users.emails["viewer"]
    db.execute("UPDATE orchestrator.users SET password_hash = %s WHERE email = %s", (weak, email))

    assert log_in(client, email).status_code == 200

    stored = db.execute(
        "SELECT password_hash FROM orchestrator.users WHERE email = %s", (email,)
    ).fetchone()
    assert stored is not None and stored[0] != weak
    rehashed = db.execute(
        "SELECT actor, after->>'email' FROM orchestrator.audit_log"
        " WHERE action = 'user.password_rehashed'"
    ).fetchall()
    assert rehashed == [("system", email)]
