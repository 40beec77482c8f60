"""Who may call what: the route-by-role matrix, in one place, and the dependency enforcing it.

Every `/api/*` and `/console/*` route is listed in `ROUTE_ROLES` with the roles allowed to call
it; a route missing from the matrix is refused to everyone (and a test fails), so a new route
cannot ship open by accident. Roles are sets, not ranks: the audit trail is read by admins and
viewers (the oversight roles), not by the operators whose actions it records. Per-object rules
come on top: an approval's own `approver_role` (operator for kickoffs, admin for procurement,
from the policy) and the four-eyes rule are checked by `orchestrator_core.records.approval_rules`.

Outside the matrix: `POST /api/auth/token` (it is the login), `GET /health`, `/health/live` and
`/health/ready` (public: load balancers and monitors call them; they show statuses and
latencies, never an error's text or an address), `POST /webhooks/hubspot` (authenticated by
HubSpot's signature) and `GET /metrics` (a scraper, not a user: authenticated by its own token,
METRICS_TOKEN, and off without one). The health report with its errors and details is
`GET /api/health`, in the matrix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from starlette.routing import compile_path

from ingest_api.actor import Actor
from ingest_api.auth.tokens import InvalidToken, TokenClaims, decode_token
from ingest_api.deps import get_pool, pooled_connection
from ingest_api.errors import ApiError
from orchestrator_core.roles import ADMIN, OPERATOR, ROLES, VIEWER
from orchestrator_core.users import get_user

EVERYONE = frozenset({VIEWER, OPERATOR, ADMIN})
OPERATORS = frozenset({OPERATOR, ADMIN})
ADMINS = frozenset({ADMIN})
AUDITORS = frozenset({VIEWER, ADMIN})

# (method, path template) → the roles allowed.
ROUTE_ROLES: Mapping[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/auth/me"): EVERYONE,
    ("GET", "/api/events"): EVERYONE,
    ("GET", "/api/events/{envelope_id}"): EVERYONE,
    ("GET", "/api/rejections"): EVERYONE,
    ("GET", "/api/runs"): EVERYONE,
    ("GET", "/api/runs/{workflow_run_id}"): EVERYONE,
    ("GET", "/api/queue"): EVERYONE,
    ("GET", "/api/exceptions/open"): EVERYONE,
    ("PATCH", "/api/exceptions/{exception_id}/resolve"): OPERATORS,
    ("GET", "/api/exceptions/{exception_id}"): EVERYONE,
    ("POST", "/api/exceptions/{exception_id}/actions/{action}"): OPERATORS,
    ("POST", "/api/replays"): OPERATORS,
    ("GET", "/api/replays"): EVERYONE,
    ("GET", "/api/replays/{replay_id}"): EVERYONE,
    ("GET", "/api/drifts"): EVERYONE,
    ("GET", "/api/drifts/{drift_id}"): EVERYONE,
    ("POST", "/api/drifts/{drift_id}/repair"): OPERATORS,
    ("POST", "/api/drifts/repair"): OPERATORS,
    ("GET", "/api/approvals/pending"): EVERYONE,
    ("GET", "/api/approvals/{approval_id}"): EVERYONE,
    # Kickoffs need an operator, procurement an admin: the approval's approver_role decides.
    ("PATCH", "/api/approvals/{approval_id}/decision"): OPERATORS,
    ("GET", "/api/audit"): AUDITORS,
    ("GET", "/api/kpis"): EVERYONE,
    # Every dependency's health with its errors and details (GET /health: statuses only).
    ("GET", "/api/health"): EVERYONE,
    ("GET", "/api/users"): ADMINS,
    ("POST", "/api/users"): ADMINS,
    ("PATCH", "/api/users/{user_id}"): ADMINS,
    # The console (ingest_api/console): the same roles for the same reads and actions.
    ("GET", "/console"): EVERYONE,
    ("GET", "/console/live"): EVERYONE,
    ("POST", "/console/logout"): EVERYONE,
    ("GET", "/console/approvals"): EVERYONE,
    ("GET", "/console/approvals/{approval_id}"): EVERYONE,
    ("POST", "/console/approvals/{approval_id}/decision"): OPERATORS,
    ("GET", "/console/exceptions"): EVERYONE,
    ("GET", "/console/exceptions/{exception_id}"): EVERYONE,
    ("POST", "/console/exceptions/{exception_id}/actions/{action}"): OPERATORS,
    ("GET", "/console/runs"): EVERYONE,
    ("GET", "/console/runs/{workflow_run_id}"): EVERYONE,
    ("GET", "/console/events"): EVERYONE,
    ("GET", "/console/events/{envelope_id}"): EVERYONE,
    ("POST", "/console/replays/plan"): OPERATORS,
    ("POST", "/console/replays"): OPERATORS,
    ("GET", "/console/replays/{replay_id}"): EVERYONE,
    ("GET", "/console/drifts"): EVERYONE,
    ("POST", "/console/drifts/repair"): OPERATORS,
    ("GET", "/console/audit"): AUDITORS,
    # The hash chain checked on demand (a walk over every row, like `orchestrator audit verify`).
    ("POST", "/console/audit/verify"): AUDITORS,
    ("GET", "/console/users"): ADMINS,
    ("POST", "/console/users"): ADMINS,
    ("POST", "/console/users/{user_id}"): ADMINS,
}

# Routes anyone may call; everything else outside /api is authenticated by other means.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/api/auth/token"),
        ("GET", "/health"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("POST", "/webhooks/hubspot"),
        # METRICS_TOKEN, checked by the route itself (`ingest_api.routes.metrics`).
        ("GET", "/metrics"),
        ("GET", "/console/login"),
        ("POST", "/console/login"),
    }
)


# (pattern, method, literal, in the matrix) of every route: what a request path routes to.
_ROUTES: list[tuple[re.Pattern[str], str, bool, bool]] = [
    (compile_path(path)[0], method, "{" not in path, (method, path) in ROUTE_ROLES)
    for method, path in (*ROUTE_ROLES, *PUBLIC_ROUTES)
]


def _routes_at(path: str) -> list[tuple[str, bool]]:
    """(method, in the matrix) of the routes at a request path; a literal template wins over
    one with a parameter (`/api/drifts/repair` is not drift "repair")."""
    found = [(literal, method, guarded) for p, method, literal, guarded in _ROUTES if p.match(path)]
    literal = [(method, guarded) for is_literal, method, guarded in found if is_literal]
    return literal or [(method, guarded) for _, method, guarded in found]


def allowed_methods(path: str) -> set[str]:
    """Every method some route answers at `path` (a request path): the `Allow` of a 405.
    Starlette's names only the first route matched, and each method is a route of its own."""
    return {method for method, _ in _routes_at(path)}


def needs_token(method: str, path: str) -> bool:
    """Whether `method path` reaches a route of the matrix (so it needs a bearer token)."""
    return any(m == method and guarded for m, guarded in _routes_at(path))


def may(role: str, method: str, path: str) -> bool:
    """Whether the matrix lets `role` call `method path` (a route template); unlisted: no."""
    return role in ROUTE_ROLES.get((method, path), frozenset())


TOKEN_URL = "/api/auth/token"  # noqa: S105 - a path, not a password
# Declares the bearer scheme in the OpenAPI document (the "Authorize" button of /docs).
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def token_claims(token: str | None, secret: str) -> TokenClaims:
    """The claims of a well-formed, unexpired token signed with our key; 401 otherwise. No
    database: also the check an `/api` body waits for (`ingest_api.body_guard`)."""
    if token is None:
        raise ApiError(
            401,
            "unauthenticated",
            f"this endpoint needs an access token: POST {TOKEN_URL}, then send"
            " `Authorization: Bearer <token>`",
            headers=_CHALLENGE,
        )
    try:
        return decode_token(token, secret=secret)
    except InvalidToken as exc:
        raise ApiError(401, "invalid_token", str(exc), headers=_CHALLENGE) from None


async def current_actor(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    """The user behind the bearer token: 401 without a valid token for an enabled account.

    The role is the account's role now, not the one in the token, so a demotion or a disable
    applies to tokens already issued; a password change refuses the tokens issued before it."""
    claims = token_claims(token, request.app.state.jwt_secret)
    async with pooled_connection(get_pool(request)) as conn:
        user = await get_user(conn, claims.user_id)
    if user is None or user.disabled:
        raise ApiError(
            401,
            "invalid_token",
            "the access token's account is disabled or gone",
            headers=_CHALLENGE,
        )
    # `iat` has whole seconds: a token from the second of the change is still accepted.
    if claims.issued_at < user.password_changed_at.replace(microsecond=0):
        raise ApiError(
            401,
            "invalid_token",
            "the account's password changed after this token was issued; log in again",
            headers=_CHALLENGE,
        )
    actor = Actor(user_id=user.id, email=user.email, role=user.role)
    structlog.contextvars.bind_contextvars(user=actor.recorded_as)  # on the request's log lines
    return actor


async def authorize(request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    """The caller, if the matrix lets their role call this route; 403 naming the roles
    allowed otherwise."""
    route = request.scope.get("route")
    path = route.path_format if isinstance(route, APIRoute) else request.url.path
    check_role(actor, request.method, path)
    return actor


def check_role(actor: Actor, method: str, path: str) -> None:
    """403 naming the roles allowed unless the matrix lets the actor's role call the route."""
    allowed = ROUTE_ROLES.get((method, path))
    if allowed is None:  # fail closed: a route nobody listed
        raise ApiError(403, "forbidden", f"{method} {path} has no access rule")
    if actor.role not in allowed:
        roles = " or ".join(r for r in ROLES if r in allowed)
        raise ApiError(
            403,
            "forbidden",
            f"{method} {path} needs the role {roles}; {actor.email} is {actor.role}",
        )


ActorDep = Annotated[Actor, Depends(authorize)]


def document_roles(app: FastAPI) -> None:
    """Each matrix route's OpenAPI description ends with the roles allowed.

    Added to the generated document, not to the routes: the routers are module-level objects
    shared by every app built, and since FastAPI 0.165 `app.routes` holds an included router
    as one entry, so a loop over APIRoutes there finds none."""
    generate = app.openapi
    documented: list[dict[str, Any]] = []  # the schema already given its roles

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI's, cached until the routes change
        if not documented or documented[0] is not schema:
            for (method, path), allowed in ROUTE_ROLES.items():
                operation = schema.get("paths", {}).get(path, {}).get(method.lower())
                if operation is not None:
                    roles = ", ".join(r for r in ROLES if r in allowed)
                    description = operation.get("description", "")
                    operation["description"] = f"{description}\n\n**Roles:** {roles}.".strip()
            documented[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
