"""Who is acting: the person behind a write, their role, recorded with what they did.

Authentication is not there yet: until the security issue lands, authentication is a header.
The caller names themself in the `X-Orchestrator-User` header and states their role in the
`X-Orchestrator-Role` header (viewer, operator or admin; viewer when absent). Neither is
verified: the name is recorded as `unauthenticated:<name>`, so the audit trail never passes a
claimed name off as a verified one, and the role is only as trustworthy as whoever can reach the
API. Routes depend on `ActorDep` only; the JWT issue replaces the body of `current_actor`
(verify the token, return `Actor(name=<subject>, authenticated=True, role=<claim>,
email=<claim>)`) and no route changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ingest_api.errors import ApiError
from orchestrator_core.workflows.decisions import ROLE_RANK

ACTOR_HEADER = "X-Orchestrator-User"
ROLE_HEADER = "X-Orchestrator-Role"
MAX_ACTOR_NAME = 200
# The roles a caller may state, lowest first (the ranks of `decisions.ROLE_RANK`).
ROLES: tuple[str, ...] = tuple(sorted(ROLE_RANK, key=ROLE_RANK.__getitem__))
DEFAULT_ROLE = "viewer"


@dataclass(frozen=True)
class Actor:
    """The person behind a request."""

    name: str
    # True once the name comes from a verified credential rather than a claim.
    authenticated: bool
    # viewer, operator or admin: what the person may decide (see `decisions.may_decide`).
    role: str = DEFAULT_ROLE
    # The person's email when the name is one; the four-eyes rule compares it.
    email: str | None = None

    @property
    def recorded_as(self) -> str:
        """The name written to audit columns (`resolved_by`, `decided_by`, ...)."""
        return self.name if self.authenticated else f"unauthenticated:{self.name}"


async def current_actor(request: Request) -> Actor:
    """The actor of a write request; 401 when the request does not say who it is, or states a
    role that does not exist.

    Today: the trimmed `X-Orchestrator-User` and `X-Orchestrator-Role` headers, unauthenticated.
    A later JWT issue swaps this body only (read and verify the bearer token); the signature
    and `ActorDep` stay.
    """
    name = request.headers.get(ACTOR_HEADER, "").strip()
    if not name:
        raise ApiError(
            401,
            "unauthenticated",
            f"the {ACTOR_HEADER} header must name the person making this change",
        )
    if len(name) > MAX_ACTOR_NAME:
        raise ApiError(
            401,
            "unauthenticated",
            f"the {ACTOR_HEADER} header is longer than {MAX_ACTOR_NAME} characters",
        )
    role = request.headers.get(ROLE_HEADER, "").strip().lower() or DEFAULT_ROLE
    if role not in ROLE_RANK:
        raise ApiError(
            401,
            "unauthenticated",
            f"the {ROLE_HEADER} header must be one of {', '.join(ROLES)}"
            f" ({DEFAULT_ROLE} when absent)",
        )
    return Actor(
        name=name,
        authenticated=False,
        role=role,
        email=name if "@" in name else None,
    )


ActorDep = Annotated[Actor, Depends(current_actor)]
