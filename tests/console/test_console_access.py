"""The console against the one route-by-role matrix (`ROUTE_ROLES`), with cookie sessions: every
console route for every role, without a session, and every state-changing route without its
CSRF token."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ingest_api.auth.access import ROUTE_ROLES
from orchestrator_core.roles import ROLES
from tests.console.support import signed_in_console
from tests.support import ApiUsers

MISSING_ID = "999999"
LOGOUT = ("POST", "/console/logout")
CONSOLE_ROUTES = sorted(route for route in ROUTE_ROLES if route[1].startswith("/console"))
# Logging out ends the session the loop uses: it has tests of its own.
CALLED = [route for route in CONSOLE_ROUTES if route != LOGOUT]
POSTS = [route for route in CALLED if route[0] == "POST"]


def call(client: TestClient, route: tuple[str, str], form: dict[str, str]) -> Any:
    method, template = route
    path = re.sub(r"\{[^}]+\}", MISSING_ID, template)
    if method == "GET":
        return client.get(path, follow_redirects=False)
    return client.post(path, data=form, follow_redirects=False)


def audit_rows(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM orchestrator.audit_log").fetchone()
    assert row is not None
    return int(row[0])


def test_the_console_routes_are_covered() -> None:
    assert len(CONSOLE_ROUTES) >= 20
    assert LOGOUT in CONSOLE_ROUTES


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_allows_in_the_console(
    client: TestClient, api_users: ApiUsers, role: str
) -> None:
    token = signed_in_console(client, api_users.emails[role])
    wrong: dict[str, Any] = {}
    for route in CALLED:
        response = call(client, route, {"csrf_token": token})
        if role in ROUTE_ROLES[route]:
            # Through the access check: the page, or the missing id or empty form refused.
            ok = response.status_code in (200, 202, 303, 404, 409, 422)
        else:
            ok = (
                response.status_code == 403
                and f"{route[0]} {route[1]} needs the role" in response.text
                and "text/html" in response.headers["content-type"]
            )
        if not ok:
            wrong[f"{route[0]} {route[1]}"] = (response.status_code, response.text[-400:])
    assert wrong == {}


def test_without_a_session_pages_go_to_the_login_and_actions_are_refused(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    before = audit_rows(db)
    for route in CONSOLE_ROUTES:
        response = call(client, route, {"csrf_token": "x"})
        if route[0] == "GET":
            assert response.status_code == 303, route
            assert response.headers["location"].startswith("/console/login?next=%2Fconsole")
        else:
            assert response.status_code == 401, route
            assert "log in again" in response.text
    assert audit_rows(db) == before


def test_a_state_change_without_its_csrf_token_is_refused_whatever_the_role(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    signed_in_console(client, api_users.emails["admin"])
    before = audit_rows(db)
    for token in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        for route in [*POSTS, LOGOUT]:
            response = call(client, route, token)
            assert response.status_code == 403, (route, response.text[-300:])
            assert 'data-code="csrf_refused"' in response.text
    assert audit_rows(db) == before
    assert client.get("/console", follow_redirects=False).status_code == 200  # still signed in


def test_the_csrf_token_is_accepted_from_the_htmx_header(
    client: TestClient, api_users: ApiUsers
) -> None:
    token = signed_in_console(client, api_users.emails["operator"])
    response = client.post(
        "/console/logout",
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_the_navigation_shows_each_role_the_sections_it_may_read(
    client: TestClient, api_users: ApiUsers
) -> None:
    expected = {
        "viewer": {"Audit": True, "Users": False},
        "operator": {"Audit": False, "Users": False},
        "admin": {"Audit": True, "Users": True},
    }
    for role, sections in expected.items():
        signed_in_console(client, api_users.emails[role])
        nav = client.get("/console").text.split('<nav aria-label="Console">')[1].split("</nav>")[0]
        for label, shown in sections.items():
            assert (f">{label}</a>" in nav) is shown, (role, label)
        assert ">Approvals</a>" in nav
        client.cookies.clear()
