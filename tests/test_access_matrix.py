"""Who may call what, generated from `ROUTE_ROLES` (the one definition of the matrix): every
API route against every role, and every route against every way a token can be missing, forged,
expired or belong to no usable account. Also: no route of the app is outside the matrix unless
it is public, and the OpenAPI document declares the scheme and the roles."""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import orjson
import psycopg
import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from ingest_api.app import create_app
from ingest_api.auth.access import (
    PUBLIC_ROUTES,
    ROUTE_ROLES,
    TOKEN_URL,
    authorize,
)
from ingest_api.auth.tokens import ALGORITHM, AUDIENCE, ISSUER
from orchestrator_core.roles import ROLES
from orchestrator_core.settings import Settings
from tests.conftest import JWT_SECRET, WEBHOOK_SECRET, settings_url
from tests.support import (
    ApiUsers,
    add_user,
    bearer,
    delivery_body,
    hubspot_event,
    signed_headers,
)

# The API's routes, called with bearer tokens here; the console's (cookie sessions) are tested
# against the same matrix in tests/console/test_console_access.py.
ROUTES = sorted(route for route in ROUTE_ROLES if route[1].startswith("/api/"))
MISSING_ID = "999999"  # no row has it: an allowed caller gets 404, never 401 or 403
OTHER_SECRET = "Zq8wX3nV6bT1mK9pL2rY5cH7gJ4dF0sA"


def route_id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


def call(client: TestClient, route: tuple[str, str], headers: dict[str, str]) -> Any:
    """The route with every path parameter a missing id and, for writes, an empty JSON body
    (an allowed caller may get 404 or 422: what counts is the access decision before that)."""
    method, template = route
    path = re.sub(r"\{[^}]+\}", MISSING_ID, template)
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return client.request(method, path, headers=headers, **body)


def allowed_roles(route: tuple[str, str]) -> list[str]:
    return [role for role in ROLES if role in ROUTE_ROLES[route]]


# -- tokens ---------------------------------------------------------------------------------


def claims(user_id: int, email: str, role: str, **changes: Any) -> dict[str, Any]:
    """The claims `issue_token` writes, valid for ten minutes, with `changes` on top (None
    leaves a claim out)."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "sub": str(user_id),
        "email": email,
        "role": role,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=10),
        "jti": "0123456789abcdef",
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def authorization(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(payload: dict[str, Any], secret: str = JWT_SECRET, algorithm: str = ALGORITHM) -> str:
    with warnings.catch_warnings():  # the test secret is short for HS512: no matter here
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(payload, secret, algorithm=algorithm)


def by_hand(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS assembled without a library (an attacker's tool)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    jsonable = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in payload.items()}
    return ".".join([part(orjson.dumps(header)), part(orjson.dumps(jsonable)), part(signature)])


def admin_claims(users: ApiUsers, **changes: Any) -> dict[str, Any]:
    return claims(users.ids["admin"], users.emails["admin"], "admin", **changes)


def valid_admin_signature(users: ApiUsers) -> bytes:
    """The signature part of a genuine admin token, to graft onto other headers."""
    token = signed(admin_claims(users))
    return base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "==")


def _disabled(db: psycopg.Connection[Any], _: ApiUsers) -> dict[str, str]:
    user_id = add_user(db, "gone@orchestrator.example", "admin", disabled=True)
    return bearer(user_id, "gone@orchestrator.example", "admin", secret=JWT_SECRET)


def _deleted(db: psycopg.Connection[Any], _: ApiUsers) -> dict[str, str]:
    user_id = add_user(db, "deleted@orchestrator.example", "admin")
    db.execute("DELETE FROM orchestrator.users WHERE id = %s", (user_id,))
    return bearer(user_id, "deleted@orchestrator.example", "admin", secret=JWT_SECRET)


HeadersFor = Callable[[psycopg.Connection[Any], ApiUsers], dict[str, str]]

# Every way a request can fail to be an enabled account's with a valid token:
# case → (the error code, the request's headers).
REFUSED: dict[str, tuple[str, HeadersFor]] = {
    "no-token": ("unauthenticated", lambda db, u: {}),
    "other-scheme": (
        "unauthenticated",
        lambda db, u: {"Authorization": f"Basic {base64.b64encode(b'admin:pw').decode()}"},
    ),
    "token-without-scheme": (
        "unauthenticated",
        lambda db, u: {"Authorization": signed(admin_claims(u))},
    ),
    "garbage": ("invalid_token", lambda db, u: authorization("not-a-token")),
    "malformed": ("invalid_token", lambda db, u: authorization("abc.def.ghi")),
    "expired": (
        "invalid_token",
        lambda db, u: bearer(
            u.ids["admin"],
            u.emails["admin"],
            "admin",
            secret=JWT_SECRET,
            ttl_seconds=60,
            now=datetime.now(UTC) - timedelta(hours=1),
        ),
    ),
    "forged": (
        "invalid_token",
        lambda db, u: bearer(u.ids["admin"], u.emails["admin"], "admin", secret=OTHER_SECRET),
    ),
    "alg-none": (
        "invalid_token",
        lambda db, u: authorization(jwt.encode(admin_claims(u), key=None, algorithm="none")),
    ),
    "alg-none-by-hand": (
        "invalid_token",
        lambda db, u: authorization(by_hand({"alg": "None", "typ": "JWT"}, admin_claims(u))),
    ),
    "signature-stripped": (
        "invalid_token",
        lambda db, u: authorization(by_hand({"alg": "HS256", "typ": "JWT"}, admin_claims(u))),
    ),
    "signature-grafted": (  # a genuine signature on other claims
        "invalid_token",
        lambda db, u: authorization(
            by_hand(
                {"alg": "HS256", "typ": "JWT"},
                admin_claims(u, exp=datetime.now(UTC) + timedelta(days=365)),
                valid_admin_signature(u),
            )
        ),
    ),
    "other-algorithm": (
        "invalid_token",
        lambda db, u: authorization(signed(admin_claims(u), algorithm="HS512")),
    ),
    "wrong-audience": (
        "invalid_token",
        lambda db, u: authorization(signed(admin_claims(u, aud="another-api"))),
    ),
    "wrong-issuer": (
        "invalid_token",
        lambda db, u: authorization(signed(admin_claims(u, iss="someone-else"))),
    ),
    "no-expiry": ("invalid_token", lambda db, u: authorization(signed(admin_claims(u, exp=None)))),
    "no-subject": ("invalid_token", lambda db, u: authorization(signed(admin_claims(u, sub=None)))),
    "subject-not-an-id": (
        "invalid_token",
        lambda db, u: authorization(signed(admin_claims(u, sub=u.emails["admin"]))),
    ),
    "disabled-account": ("invalid_token", _disabled),
    "deleted-account": ("invalid_token", _deleted),
    "unknown-account": (
        "invalid_token",
        lambda db, u: bearer(999_999, "nobody@orchestrator.example", "admin", secret=JWT_SECRET),
    ),
}


# -- the matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_allows(
    client: TestClient, api_users: ApiUsers, route: tuple[str, str], role: str
) -> None:
    response = call(client, route, api_users[role])
    if role in ROUTE_ROLES[route]:
        # Through the access check: the answer, or the missing id or empty body refused.
        assert response.status_code in (200, 404, 422), response.text
        return
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    message = error["message"]
    assert route_id(route) in message and api_users.emails[role] in message
    assert " or ".join(allowed_roles(route)) in message


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_request_without_a_usable_token_is_401_on_every_route(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers, case: str
) -> None:
    code, headers_for = REFUSED[case]
    headers = headers_for(db, api_users)
    wrong: dict[str, Any] = {}
    for route in ROUTES:
        response = call(client, route, headers)
        error = response.json().get("error") or {}
        if (
            response.status_code != 401
            or response.headers.get("www-authenticate") != "Bearer"
            or error.get("code") != code
            or (case == "expired" and "expired" not in error.get("message", ""))
        ):
            wrong[route_id(route)] = (response.status_code, response.text)
    assert wrong == {}


def test_the_role_is_the_account_s_now_not_the_token_s(
    client: TestClient, db: psycopg.Connection[Any], api_users: ApiUsers
) -> None:
    resolve = ("PATCH", "/api/exceptions/{exception_id}/resolve")
    users = ("GET", "/api/users")
    assert call(client, resolve, api_users["operator"]).status_code not in (401, 403)
    db.execute(
        "UPDATE orchestrator.users SET role = 'viewer' WHERE id = %s", (api_users.ids["operator"],)
    )
    demoted = call(client, resolve, api_users["operator"])
    assert demoted.status_code == 403, demoted.text
    assert "is viewer" in demoted.json()["error"]["message"]

    # Promoted: the viewer's old token reaches the admin routes at once.
    assert call(client, users, api_users["viewer"]).status_code == 403
    db.execute(
        "UPDATE orchestrator.users SET role = 'admin' WHERE id = %s", (api_users.ids["viewer"],)
    )
    assert call(client, users, api_users["viewer"]).status_code == 200

    # A (validly signed) role claim is not believed: the account decides.
    claims_admin = bearer(
        api_users.ids["operator"], api_users.emails["operator"], "admin", secret=JWT_SECRET
    )
    assert call(client, users, claims_admin).status_code == 403
    me = client.get("/api/auth/me", headers=claims_admin).json()
    assert me == {
        "id": api_users.ids["operator"],
        "email": api_users.emails["operator"],
        "role": "viewer",
    }


def app_route_keys(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (an included router is one entry of
    `app.routes`: `iter_route_contexts` walks into it)."""
    routes = [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    return {(method, route.path_format) for route in routes for method in route.methods or ()}


def test_every_route_is_in_the_matrix_or_public(settings: Settings) -> None:
    app = create_app(settings, settings_url(settings))
    routes = app_route_keys(app)
    assert not set(ROUTE_ROLES) & PUBLIC_ROUTES
    assert routes - PUBLIC_ROUTES == set(ROUTE_ROLES)  # nothing unlisted, nothing stale
    assert routes >= PUBLIC_ROUTES
    assert all(path.startswith(("/api/", "/console")) for _, path in ROUTE_ROLES)
    assert all(ROUTE_ROLES[key] and ROUTE_ROLES[key] <= set(ROLES) for key in ROUTE_ROLES)


def test_the_console_shows_the_health_details_only_to_roles_that_may_read_them() -> None:
    """The overview's health panel carries `GET /api/health`'s errors and details: the pages
    that show it are open to no role that route refuses."""
    details = ROUTE_ROLES[("GET", "/api/health")]
    for page in (("GET", "/console"), ("GET", "/console/live")):
        assert ROUTE_ROLES[page] <= details, page


def test_a_route_missing_from_the_matrix_is_refused_to_everyone(
    client: TestClient, api_users: ApiUsers
) -> None:
    async def unlisted() -> dict[str, str]:
        return {"secret": "data"}

    client.app.add_api_route(  # type: ignore[attr-defined]
        "/api/unlisted", unlisted, methods=["GET"], dependencies=[Depends(authorize)]
    )
    for role in ROLES:
        response = client.get("/api/unlisted", headers=api_users[role])
        assert response.status_code == 403, response.text
        assert "has no access rule" in response.json()["error"]["message"]
    assert client.get("/api/unlisted").status_code == 401


# -- public routes --------------------------------------------------------------------------


def test_public_routes_need_no_token_and_ignore_a_bad_one(client: TestClient) -> None:
    for headers in ({}, authorization("not-a-token")):
        assert client.get("/health", headers=headers).status_code == 200
        body = delivery_body([hubspot_event()])
        signed_delivery = signed_headers(body, "http://testserver/webhooks/hubspot", WEBHOOK_SECRET)
        webhook = client.post(
            "/webhooks/hubspot", content=body, headers={**signed_delivery, **headers}
        )
        assert webhook.status_code == 200, webhook.text
    # The login answers for the credentials, not for a token.
    login = client.post(TOKEN_URL, data={"username": "nobody@example.com", "password": "x" * 12})
    assert login.status_code == 401
    assert login.json()["error"]["code"] == "invalid_credentials"


# -- the OpenAPI document -------------------------------------------------------------------


def test_openapi_declares_the_password_flow_and_each_route_s_roles(
    client: TestClient, settings: Settings
) -> None:
    client.get("/openapi.json")
    create_app(settings, settings_url(settings)).openapi()  # another app: the roles once still
    document = client.get("/openapi.json").json()
    ((name, scheme),) = document["components"]["securitySchemes"].items()
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == TOKEN_URL
    for route in ROUTES:
        method, path = route
        operation = document["paths"][path][method.lower()]
        assert operation.get("security") == [{name: []}], route
        description = operation["description"]
        assert description.endswith(f"**Roles:** {', '.join(allowed_roles(route))}."), route
        assert description.count("**Roles:**") == 1, route
    for method, path in PUBLIC_ROUTES:
        if path.startswith("/console"):  # pages, not in the API's document
            assert path not in document["paths"]
            continue
        assert "security" not in document["paths"][path][method.lower()], (method, path)
