"""Driving the console over HTTP as a browser would, without one: the login form, the session
cookie, the CSRF token of the page."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.support import TEST_PASSWORD

_LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def console_login(client: httpx.Client, email: str, password: str = TEST_PASSWORD) -> Any:
    """The login form filled in and sent: the response (a 303 to the console when it worked).
    `client`: the app in-process (TestClient) or a live server's (httpx.Client, base_url)."""
    form = client.get("/console/login")
    assert form.status_code == 200, form.text
    match = _LOGIN_TOKEN.search(form.text)
    assert match, "the login form has no CSRF token"
    return client.post(
        "/console/login",
        data={"username": email, "password": password, "csrf_token": match.group(1)},
        follow_redirects=False,
    )


def csrf_token(client: TestClient, path: str = "/console") -> str:
    """The signed-in session's CSRF token, as a page carries it."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    match = _META_TOKEN.search(response.text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def signed_in_console(client: TestClient, email: str) -> str:
    """Log `email` in; the session's CSRF token."""
    response = console_login(client, email)
    assert response.status_code == 303, response.text
    return csrf_token(client)
