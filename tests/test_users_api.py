"""User management by admins: `GET/POST /api/users`, `PATCH /api/users/{id}`: accounts created
and changed with one audit row per change and never a secret in a response or the log; the last
enabled admin stays; a disable or a new password applies at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from tests.conftest import JWT_SECRET
from tests.support import TEST_PASSWORD, ApiUsers, add_user, bearer

NEW_PASSWORD = "a new and longer passphrase"
PUBLIC_FIELDS = {"id", "email", "role", "disabled", "created_at", "updated_at", "disabled_at"}


def user_audit(db: psycopg.Connection[Any], user_id: int | None = None) -> list[dict[str, Any]]:
    query = (
        "SELECT actor, action, entity_type, entity_id, before, after FROM orchestrator.audit_log"
        " WHERE entity_type = 'user' AND action <> 'auth.login_failed'"
    )
    params: tuple[Any, ...] = ()
    if user_id is not None:
        query += " AND entity_id = %s"
        params = (str(user_id),)
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(query + " ORDER BY seq", params).fetchall()


def assert_no_secrets(text: str, *passwords: str) -> None:
    for secret in (*passwords, "argon2", "password_hash", "$argon"):
        assert secret not in text, secret


def log_in(client: TestClient, email: str, password: str) -> Any:
    return client.post("/api/auth/token", data={"username": email, "password": password})


def create(client: TestClient, users: ApiUsers, body: Any) -> Any:
    return client.post("/api/users", json=body, headers=users["admin"])


def change(client: TestClient, users: ApiUsers, user_id: int, body: Any) -> Any:
    return client.patch(f"/api/users/{user_id}", json=body, headers=users["admin"])


# -- creating -------------------------------------------------------------------------------


def test_an_admin_creates_an_account_that_can_log_in(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    password = "a long enough passphrase"
    response = create(
        client,
        api_users,
        {"email": " New.Person@Example.COM ", "role": "operator", "password": password},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert (body["email"], body["role"], body["disabled"]) == (
        "New.Person@example.com",  # the domain normalized, the local part kept
        "operator",
        False,
    )
    assert body["disabled_at"] is None
    assert_no_secrets(response.text, password)

    (row,) = user_audit(db, body["id"])
    assert row == {
        "actor": f"user:{api_users.emails['admin']}",
        "action": "user.created",
        "entity_type": "user",
        "entity_id": str(body["id"]),
        "before": None,
        "after": {"email": "New.Person@example.com", "role": "operator", "disabled": False},
    }
    assert_no_secrets(str(row), password)

    listed = client.get("/api/users", headers=api_users["admin"])
    assert listed.status_code == 200
    assert [u["email"] for u in listed.json()["items"]] == [
        *(api_users.emails[r] for r in ("viewer", "operator", "admin")),
        "New.Person@example.com",
    ]
    assert all(set(u) == PUBLIC_FIELDS for u in listed.json()["items"])
    assert_no_secrets(listed.text, password, TEST_PASSWORD)

    login = log_in(client, "new.person@example.com", password)
    assert login.status_code == 200, login.text
    assert login.json()["role"] == "operator"


@pytest.mark.parametrize(
    "email",
    ["viewer@orchestrator.example", "VIEWER@Orchestrator.Example", " viewer@ORCHESTRATOR.example"],
)
def test_an_email_taken_in_any_case_is_409(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, email: str
) -> None:
    response = create(
        client, api_users, {"email": email, "role": "admin", "password": NEW_PASSWORD}
    )
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "user_exists"
    assert "viewer@orchestrator.example" in error["message"].lower()
    assert user_audit(db) == []
    assert log_in(client, api_users.emails["viewer"], NEW_PASSWORD).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"email": "not an email", "role": "viewer", "password": NEW_PASSWORD},
            422,
            "invalid_email",
            "email",
        ),
        (
            {"email": "no-domain@", "role": "viewer", "password": NEW_PASSWORD},
            422,
            "invalid_email",
            "email",
        ),
        (
            {"email": "a@b.example", "role": "owner", "password": NEW_PASSWORD},
            422,
            "invalid_request",
            "body.role",
        ),
        (
            {"email": "a@b.example", "role": "Admin", "password": NEW_PASSWORD},
            422,
            "invalid_request",
            "body.role",
        ),
        (
            {"email": "a@b.example", "role": "viewer", "password": "short-pw"},
            422,
            "invalid_request",
            "body.password",
        ),
        (
            {"email": "a@b.example", "role": "viewer", "password": "x" * 1025},
            422,
            "invalid_password",
            "password",
        ),
        ({"email": "a@b.example", "role": "viewer"}, 422, "invalid_request", "body.password"),
        (
            {
                "email": "a@b.example",
                "role": "viewer",
                "password": NEW_PASSWORD,
                "password_hash": "x",
            },
            422,
            "invalid_request",
            "body.password_hash",
        ),
    ],
    ids=[
        "not-an-email",
        "no-domain",
        "unknown-role",
        "role-in-another-case",
        "short-password",
        "huge-password",
        "no-password",
        "a-hash",
    ],
)
def test_a_bad_new_user_is_422_naming_the_field(
    client: TestClient,
    db: psycopg.Connection[Any],
    api_users: ApiUsers,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    response = create(client, api_users, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if code == "invalid_request":
        assert [d["field"] for d in error["details"]] == [field]
    else:
        assert error["message"].startswith(f"{field}:")
    if "password" in body:
        assert body["password"] not in response.text
    assert user_audit(db) == []
    assert len(client.get("/api/users", headers=api_users["admin"]).json()["items"]) == 3


# -- changing -------------------------------------------------------------------------------


def test_each_change_is_one_audit_row_without_secrets(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    admin = f"user:{api_users.emails['admin']}"
    operator_id = api_users.ids["operator"]
    email = api_users.emails["operator"]

    promoted = change(client, api_users, operator_id, {"role": "admin"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "admin"
    disabled = change(client, api_users, operator_id, {"disabled": True})
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True and disabled.json()["disabled_at"]
    enabled = change(client, api_users, operator_id, {"disabled": False})
    assert enabled.json()["disabled"] is False and enabled.json()["disabled_at"] is None
    # an admin now: setting their password takes the acting admin's own
    new_password = change(
        client,
        api_users,
        operator_id,
        {"password": NEW_PASSWORD, "current_password": TEST_PASSWORD},
    )
    assert new_password.status_code == 200, new_password.text
    assert set(new_password.json()) == PUBLIC_FIELDS
    assert_no_secrets(new_password.text, NEW_PASSWORD, TEST_PASSWORD)

    as_admin = {"email": email, "role": "admin", "disabled": False}
    assert user_audit(db, operator_id) == [
        {
            "actor": admin,
            "action": "user.role_changed",
            "entity_type": "user",
            "entity_id": str(operator_id),
            "before": {"email": email, "role": "operator", "disabled": False},
            "after": as_admin,
        },
        {
            "actor": admin,
            "action": "user.disabled",
            "entity_type": "user",
            "entity_id": str(operator_id),
            "before": as_admin,
            "after": {**as_admin, "disabled": True},
        },
        {
            "actor": admin,
            "action": "user.enabled",
            "entity_type": "user",
            "entity_id": str(operator_id),
            "before": {**as_admin, "disabled": True},
            "after": as_admin,
        },
        {
            "actor": admin,
            "action": "user.password_changed",
            "entity_type": "user",
            "entity_id": str(operator_id),
            "before": as_admin,
            "after": as_admin,
        },
    ]
    whole_log = str(
        db.execute("SELECT array_agg(a::text) FROM orchestrator.audit_log a").fetchone()
    )
    assert_no_secrets(whole_log, NEW_PASSWORD, TEST_PASSWORD)


def test_two_changes_at_once_are_two_rows(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    viewer_id = api_users.ids["viewer"]
    response = change(client, api_users, viewer_id, {"role": "operator", "disabled": True})
    assert response.status_code == 200, response.text
    assert [row["action"] for row in user_audit(db, viewer_id)] == [
        "user.role_changed",
        "user.disabled",
    ]


@pytest.mark.parametrize(
    "body", [{}, {"role": "viewer"}, {"disabled": False}, {"role": "viewer", "disabled": False}]
)
def test_a_change_to_what_holds_writes_nothing(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, body: dict[str, Any]
) -> None:
    before = client.get("/api/users", headers=api_users["admin"]).json()["items"][0]
    response = change(client, api_users, api_users.ids["viewer"], body)
    assert response.status_code == 200, response.text
    assert response.json() == before
    assert user_audit(db) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "superuser"}, "body.role"),
        ({"disabled": "maybe"}, "body.disabled"),
        ({"password": "short"}, "body.password"),
        ({"email": "other@orchestrator.example"}, "body.email"),
    ],
)
def test_a_bad_change_is_422_naming_the_field(
    client: TestClient,
    db: psycopg.Connection[Any],
    api_users: ApiUsers,
    body: dict[str, Any],
    field: str,
) -> None:
    response = change(client, api_users, api_users.ids["operator"], body)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    assert user_audit(db) == []


def test_an_unknown_user_is_404(client: TestClient, api_users: ApiUsers) -> None:
    response = change(client, api_users, 999_999, {"role": "viewer"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "user_not_found"


# -- the last admin -------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"role": "operator"}, {"role": "viewer"}, {"disabled": True}])
def test_the_last_enabled_admin_stays(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, body: dict[str, Any]
) -> None:
    admin_id = api_users.ids["admin"]
    add_user(db, "retired@orchestrator.example", "admin", disabled=True)  # does not count
    refused = change(client, api_users, admin_id, body)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "last_admin"
    assert api_users.emails["admin"] in error["message"]
    assert user_audit(db) == []
    assert client.get("/api/auth/me", headers=api_users["admin"]).json()["role"] == "admin"

    # With a second enabled admin, the first may step down (and then lose admin access).
    change(client, api_users, api_users.ids["operator"], {"role": "admin"})
    stepped_down = change(client, api_users, admin_id, body)
    assert stepped_down.status_code == 200, stepped_down.text
    after = client.get("/api/users", headers=api_users["admin"])
    assert after.status_code in (401, 403)
    # ... and now the other is the last one.
    last = client.patch(
        f"/api/users/{api_users.ids['operator']}",
        json={"disabled": True},
        headers=api_users["operator"],
    )
    assert last.status_code == 409
    assert last.json()["error"]["code"] == "last_admin"


# -- at once --------------------------------------------------------------------------------


def test_a_disabled_account_s_token_is_refused_at_once(
    client: TestClient, api_users: ApiUsers
) -> None:
    token = api_users["operator"]
    assert client.get("/api/auth/me", headers=token).status_code == 200
    assert change(client, api_users, api_users.ids["operator"], {"disabled": True}).is_success
    refused = client.get("/api/events", headers=token)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"
    assert log_in(client, api_users.emails["operator"], TEST_PASSWORD).status_code == 401

    assert change(client, api_users, api_users.ids["operator"], {"disabled": False}).is_success
    assert client.get("/api/events", headers=token).status_code == 200  # not yet expired


def test_a_new_password_replaces_the_old_one(client: TestClient, api_users: ApiUsers) -> None:
    email = api_users.emails["viewer"]
    assert log_in(client, email, TEST_PASSWORD).status_code == 200
    response = change(client, api_users, api_users.ids["viewer"], {"password": NEW_PASSWORD})
    assert response.status_code == 200, response.text
    assert log_in(client, email, TEST_PASSWORD).status_code == 401
    assert log_in(client, email, NEW_PASSWORD).status_code == 200


def test_a_new_password_refuses_the_tokens_issued_before_it(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    viewer_id, email = api_users.ids["viewer"], api_users.emails["viewer"]
    db.execute(  # the account is a day old
        "UPDATE orchestrator.users SET password_changed_at = now() - interval '1 day'"
        " WHERE id = %s",
        (viewer_id,),
    )
    earlier = bearer(
        viewer_id, email, "viewer", secret=JWT_SECRET, now=datetime.now(UTC) - timedelta(seconds=5)
    )
    assert client.get("/api/auth/me", headers=earlier).status_code == 200
    assert change(client, api_users, viewer_id, {"password": NEW_PASSWORD}).is_success

    refused = client.get("/api/auth/me", headers=earlier)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"
    assert "password changed" in refused.json()["error"]["message"]
    fresh = log_in(client, email, NEW_PASSWORD).json()["access_token"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh}"})
    assert me.status_code == 200


def test_setting_another_admins_password_needs_your_own(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    other = add_user(db, "second.admin@harborlabs.example", "admin")

    missing = change(client, api_users, other, {"password": NEW_PASSWORD})
    wrong = change(
        client, api_users, other, {"password": NEW_PASSWORD, "current_password": "not mine at all"}
    )
    right = change(
        client, api_users, other, {"password": NEW_PASSWORD, "current_password": TEST_PASSWORD}
    )

    assert (missing.status_code, missing.json()["error"]["code"]) == (
        403,
        "reauthentication_required",
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "reauthentication_failed")
    assert right.status_code == 200, right.text
    assert log_in(client, "second.admin@harborlabs.example", NEW_PASSWORD).status_code == 200
    assert_no_secrets(missing.text + wrong.text + right.text, NEW_PASSWORD, TEST_PASSWORD)
    # An operator's or viewer's password, or one's own, needs no confirmation.
    assert change(
        client, api_users, api_users.ids["operator"], {"password": NEW_PASSWORD}
    ).is_success
    assert change(client, api_users, api_users.ids["admin"], {"password": NEW_PASSWORD}).is_success
