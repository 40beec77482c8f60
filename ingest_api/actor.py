"""Who is acting: the person behind a write, recorded with what they did.

Authentication is not there yet: the caller names themself in the `X-Orchestrator-User` header
and is recorded as `unauthenticated:<name>`, so the audit trail never passes a claimed name off
as a verified one. Routes depend on `ActorDep` only; the JWT issue replaces the body of
`current_actor` (verify the token, return `Actor(name=<subject>, authenticated=True)`) and no
route changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ingest_api.errors import ApiError

ACTOR_HEADER = "X-Orchestrator-User"
MAX_ACTOR_NAME = 200


@dataclass(frozen=True)
class Actor:
    """The person behind a request."""

    name: str
    # True once the name comes from a verified credential rather than a claim.
    authenticated: bool

    @property
    def recorded_as(self) -> str:
        """The name written to audit columns (`resolved_by`, `decided_by`, ...)."""
        return self.name if self.authenticated else f"unauthenticated:{self.name}"


async def current_actor(request: Request) -> Actor:
    """The actor of a write request; 401 when the request does not say who it is.

    Today: the trimmed `X-Orchestrator-User` header, unauthenticated. A later JWT issue swaps
    this body only (read and verify the bearer token); the signature and `ActorDep` stay.
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
    return Actor(name=name, authenticated=False)


ActorDep = Annotated[Actor, Depends(current_actor)]
