"""The console's users page, for admins: the accounts, and creating one, changing a role,
disabling and enabling, through the same core functions as `/api/users` (the same audit rows, the
last enabled admin kept, a weak password refused), never showing a password back."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from tests.console.support import console_login, signed_in_console
from tests.support import TEST_PASSWORD, ApiUsers, add_user

NEW_PASSWORD = "a long enough passphrase"
# An HTMX answer clears an earlier failure's message from the page's flash area.
FLASH_RESET = '<div id="flash" role="status" aria-live="polite" hx-swap-oob="true"></div>'
_ROW = re.compile(r'data-testid="user-row" data-user-id="(\d+)" data-email="([^"]+)"')


def user_changes(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """The audit rows of account changes (not of logins)."""
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT actor, action, entity_id, before, after FROM orchestrator.audit_log"
            " WHERE action LIKE 'user.%%' ORDER BY seq"
        ).fetchall()


def account(db: psycopg.Connection[Any], email: str) -> dict[str, Any] | None:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, role, disabled_at FROM orchestrator.users WHERE email = %s", (email,)
        ).fetchone()


def rows(html: str) -> list[str]:
    return [email for _, email in _ROW.findall(html)]


def post(
    client: TestClient, path: str, token: str | None, *, htmx: bool = False, **form: str
) -> Any:
    data = {**form, **({"csrf_token": token} if token is not None else {})}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(path, data=data, headers=headers, follow_redirects=False)


def test_an_admin_sees_every_account(client: TestClient, api_users: ApiUsers) -> None:
    signed_in_console(client, api_users.emails["admin"])
    response = client.get("/console/users")
    assert response.status_code == 200
    html = response.text
    assert rows(html) == [api_users.emails[r] for r in ("admin", "operator", "viewer")]
    assert 'href="/console/users" aria-current="page"' in html
    assert html.count('id="flash"') == 1
    operator = html.split(f'data-email="{api_users.emails["operator"]}"')[1].split("</tr>")[0]
    assert 'data-testid="user-role">operator<' in operator
    assert 'data-testid="user-status">enabled<' in operator
    assert "<time datetime=" in operator
    assert 'data-testid="change-role"' in operator and 'data-testid="disable-user"' in operator
    assert "(you)" in html.split(f'data-email="{api_users.emails["admin"]}"')[1].split("</tr>")[0]
    assert 'data-testid="create-user"' in html
    assert 'data-testid="password-note"' in html
    # HTMX asks for the list alone.
    fragment = client.get("/console/users", headers={"HX-Request": "true"}).text.strip()
    assert fragment.startswith(FLASH_RESET + '\n<section id="users"') and "<html" not in fragment


def test_the_list_is_paged(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    emails = [f"person{n:02}@orchestrator.example" for n in range(55)]
    for email in emails:
        add_user(db, email, "viewer")
    signed_in_console(client, api_users.emails["admin"])
    first = client.get("/console/users").text
    assert rows(first) == list(reversed(emails))[:50]
    older = re.search(r'href="([^"]+)"[^>]*data-testid="older-page"', first)
    assert older
    second = client.get(older.group(1)).text
    assert rows(second) == [
        *reversed(emails[:5]),
        *(api_users.emails[r] for r in ("admin", "operator", "viewer")),
    ]
    assert 'data-testid="older-page"' not in second


def test_an_admin_creates_a_user_who_can_then_log_in(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["admin"])
    response = post(
        client,
        "/console/users",
        token,
        htmx=True,
        email="New.Person@Harborlabs.example",
        role="operator",
        password=NEW_PASSWORD,
    )
    assert response.status_code == 200, response.text
    fragment = response.text.strip()
    assert fragment.startswith(FLASH_RESET + '\n<section id="users"') and "<html" not in fragment
    assert "Created New.Person@harborlabs.example as operator" in fragment
    assert rows(fragment)[0] == "New.Person@harborlabs.example"
    assert NEW_PASSWORD not in fragment
    assert 'name="password" required' in fragment  # the form is empty again
    created = account(db, "New.Person@harborlabs.example")
    assert created is not None and created["role"] == "operator"
    assert created["disabled_at"] is None
    assert user_changes(db) == [
        {
            "actor": f"user:{api_users.emails['admin']}",
            "action": "user.created",
            "entity_id": str(created["id"]),
            "before": None,
            "after": {
                "email": "New.Person@harborlabs.example",
                "role": "operator",
                "disabled": False,
            },
        }
    ]
    # Without JavaScript: the whole page, the outcome at the top.
    page = post(
        client,
        "/console/users",
        token,
        email="second@harborlabs.example",
        role="viewer",
        password=NEW_PASSWORD,
    )
    assert page.status_code == 200
    assert "<html" in page.text and 'data-testid="result"' in page.text
    assert page.text.count('id="flash"') == 1
    assert NEW_PASSWORD not in page.text
    assert rows(page.text)[:2] == ["second@harborlabs.example", "New.Person@harborlabs.example"]

    client.cookies.clear()
    assert console_login(client, "new.person@harborlabs.example", NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("form", "status", "named"),
    [
        (
            {"email": "weak@harborlabs.example", "role": "viewer", "password": "short pass"},
            422,
            "password: at least 12 characters needed",
        ),
        ({"email": "weak@harborlabs.example", "role": "viewer"}, 422, "password: at least 12"),
        ({"email": "not an email", "role": "viewer", "password": NEW_PASSWORD}, 422, "email:"),
        (
            {"email": "x@harborlabs.example", "role": "root", "password": NEW_PASSWORD},
            422,
            "role: must be one of viewer, operator, admin",
        ),
        (
            {"email": "VIEWER@orchestrator.example", "role": "viewer", "password": NEW_PASSWORD},
            409,
            "already exists",
        ),
        (
            {"email": "nul\x00@harborlabs.example", "role": "viewer", "password": NEW_PASSWORD},
            422,
            "email:",
        ),
    ],
)
def test_a_refused_new_user_is_a_4xx_naming_why_without_the_password(
    client: TestClient,
    db: psycopg.Connection[Any],
    api_users: ApiUsers,
    form: dict[str, str],
    status: int,
    named: str,
) -> None:
    token = signed_in_console(client, api_users.emails["admin"])
    for htmx in (True, False):
        response = post(client, "/console/users", token, htmx=htmx, **form)
        assert response.status_code == status, response.text
        assert named in response.text
        if "password" in form:
            assert form["password"] not in response.text
        if htmx:
            assert response.headers["hx-retarget"] == "#flash"
    assert user_changes(db) == []
    count = db.execute("SELECT count(*) FROM orchestrator.users").fetchone()
    assert count == (3,)


def test_an_admin_changes_a_role_in_place(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["admin"])
    operator = api_users.ids["operator"]
    response = post(client, f"/console/users/{operator}", token, htmx=True, role="viewer")
    assert response.status_code == 200, response.text
    fragment = response.text.strip()
    assert fragment.startswith(f'<tr id="user-{operator}"') and fragment.endswith("</tr>")
    assert 'data-testid="user-role">viewer<' in fragment
    assert "role changed from operator to viewer" in fragment
    assert account(db, api_users.emails["operator"])["role"] == "viewer"  # type: ignore[index]
    assert user_changes(db) == [
        {
            "actor": f"user:{api_users.emails['admin']}",
            "action": "user.role_changed",
            "entity_id": str(operator),
            "before": {
                "email": api_users.emails["operator"],
                "role": "operator",
                "disabled": False,
            },
            "after": {"email": api_users.emails["operator"], "role": "viewer", "disabled": False},
        }
    ]
    # The same again changes nothing and writes nothing.
    again = post(client, f"/console/users/{operator}", token, htmx=True, role="viewer")
    assert "Nothing to change" in again.text
    assert len(user_changes(db)) == 1
    # Without JavaScript: the whole page, the outcome at the top.
    page = post(client, f"/console/users/{operator}", token, role="operator")
    assert page.status_code == 200
    assert "<html" in page.text and "role changed from viewer to operator" in page.text
    assert account(db, api_users.emails["operator"])["role"] == "operator"  # type: ignore[index]


def test_a_disabled_user_can_no_longer_use_the_console_until_enabled(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    operator_email = api_users.emails["operator"]
    operator_id = api_users.ids["operator"]
    with TestClient(client.app) as operator_browser:
        signed_in_console(operator_browser, operator_email)
        token = signed_in_console(client, api_users.emails["admin"])
        response = post(client, f"/console/users/{operator_id}", token, disabled="true")
        assert response.status_code == 200, response.text
        assert "disabled (their console sessions and API tokens stop working now)" in response.text
        assert account(db, operator_email)["disabled_at"] is not None  # type: ignore[index]
        assert [c["action"] for c in user_changes(db)] == ["user.disabled"]
        # The open session ends at once, and a new login fails.
        ended = operator_browser.get("/console", follow_redirects=False)
        assert ended.status_code == 303
        assert ended.headers["location"].startswith("/console/login")
        assert console_login(operator_browser, operator_email).status_code == 401

        enabled = post(client, f"/console/users/{operator_id}", token, htmx=True, disabled="false")
        assert 'data-testid="user-status">enabled<' in enabled.text
        assert "enabled (they can log in again)" in enabled.text
        assert console_login(operator_browser, operator_email, TEST_PASSWORD).status_code == 303
    assert [c["action"] for c in user_changes(db)] == ["user.disabled", "user.enabled"]


@pytest.mark.parametrize("form", [{"role": "operator"}, {"role": "viewer"}, {"disabled": "true"}])
def test_the_last_enabled_admin_stays(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, form: dict[str, str]
) -> None:
    admin_id, admin_email = api_users.ids["admin"], api_users.emails["admin"]
    add_user(db, "retired@orchestrator.example", "admin", disabled=True)  # does not count
    token = signed_in_console(client, admin_email)
    for htmx in (True, False):
        refused = post(client, f"/console/users/{admin_id}", token, htmx=htmx, **form)
        assert refused.status_code == 409, refused.text
        assert f"{admin_email} is the only enabled admin; make another admin first" in refused.text
        assert 'data-code="last_admin"' in refused.text
    assert account(db, admin_email) == {"id": admin_id, "role": "admin", "disabled_at": None}
    assert user_changes(db) == []
    assert client.get("/console/users").status_code == 200  # still an admin


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_others_get_no_users_page_and_their_forged_posts_change_nothing(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, role: str
) -> None:
    token = signed_in_console(client, api_users.emails[role])
    page = client.get("/console/users")
    assert page.status_code == 403
    assert "needs the role admin" in page.text
    assert 'data-testid="user-row"' not in page.text
    assert api_users.emails["admin"] not in page.text
    assert 'href="/console/users"' not in client.get("/console").text
    attempts = [
        (
            "/console/users",
            {"email": "mole@harborlabs.example", "role": "admin", "password": NEW_PASSWORD},
        ),
        (f"/console/users/{api_users.ids[role]}", {"role": "admin"}),
        (f"/console/users/{api_users.ids['admin']}", {"disabled": "true"}),
    ]
    for path, form in attempts:
        for htmx in (True, False):
            response = post(client, path, token, htmx=htmx, **form)
            assert response.status_code == 403, (path, response.text)
            assert "needs the role admin" in response.text
            assert NEW_PASSWORD not in response.text
    assert account(db, "mole@harborlabs.example") is None
    assert account(db, api_users.emails[role])["role"] == role  # type: ignore[index]
    assert account(db, api_users.emails["admin"])["disabled_at"] is None  # type: ignore[index]
    assert user_changes(db) == []


def test_a_post_without_its_csrf_token_is_refused(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    signed_in_console(client, api_users.emails["admin"])
    operator = api_users.ids["operator"]
    for token in (None, "forged", ""):
        created = post(
            client,
            "/console/users",
            token,
            email="csrf@harborlabs.example",
            role="admin",
            password=NEW_PASSWORD,
        )
        changed = post(client, f"/console/users/{operator}", token, role="admin")
        for response in (created, changed):
            assert response.status_code == 403
            assert 'data-code="csrf_refused"' in response.text
            assert NEW_PASSWORD not in response.text
    assert account(db, "csrf@harborlabs.example") is None
    assert account(db, api_users.emails["operator"])["role"] == "operator"  # type: ignore[index]
    assert user_changes(db) == []


@pytest.mark.parametrize(
    ("path", "form", "status", "named"),
    [
        ("/console/users/0", {"role": "viewer"}, 422, "path.user_id"),
        ("/console/users/abc", {"role": "viewer"}, 422, "path.user_id"),
        (f"/console/users/{2**63}", {"role": "viewer"}, 422, "path.user_id"),
        ("/console/users/999999", {"role": "viewer"}, 404, "no user 999999"),
        ("/console/users/{operator}", {"role": "superuser"}, 422, "role: must be one of"),
        ("/console/users/{operator}", {"disabled": "maybe"}, 422, "disabled: must be true or"),
        ("/console/users/{operator}", {}, 422, "nothing to change"),
        ("/console/users/{operator}", {"password": NEW_PASSWORD}, 422, "does not set passwords"),
    ],
)
def test_bad_changes_are_a_4xx_naming_the_problem(
    client: TestClient,
    db: psycopg.Connection[Any],
    api_users: ApiUsers,
    path: str,
    form: dict[str, str],
    status: int,
    named: str,
) -> None:
    token = signed_in_console(client, api_users.emails["admin"])
    response = post(client, path.format(operator=api_users.ids["operator"]), token, **form)
    assert response.status_code == status, response.text
    assert named in response.text
    assert NEW_PASSWORD not in response.text
    assert user_changes(db) == []


@pytest.mark.parametrize("query", ["before_id=abc", "before_id=0", f"before_id={2**63}"])
def test_a_bad_page_cursor_is_422(client: TestClient, api_users: ApiUsers, query: str) -> None:
    signed_in_console(client, api_users.emails["admin"])
    response = client.get(f"/console/users?{query}")
    assert response.status_code == 422
    assert "query.before_id" in response.text
