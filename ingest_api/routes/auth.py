"""Login: `POST /api/auth/token` (OAuth2 password form) → a short-lived bearer token; and
`GET /api/auth/me`, who the token belongs to."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from ingest_api.auth.access import ActorDep
from ingest_api.auth.tokens import issue_token
from ingest_api.deps import ConnectionDep, SettingsDep
from ingest_api.errors import ApiError
from orchestrator_core import audit
from orchestrator_core.text import nul_marked
from orchestrator_core.users import LoginFailed, authenticate

router = APIRouter(prefix="/api/auth", tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_at: datetime
    expires_in: int  # seconds
    role: str


class Me(BaseModel):
    id: int
    email: str
    role: str


@router.post(
    "/token",
    response_model=TokenResponse,
    responses={
        401: {"description": "wrong email or password, or a disabled account"},
        429: {"description": "too many attempts for this account or address; see Retry-After"},
    },
)
async def login(
    request: Request,
    response: Response,
    conn: ConnectionDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenResponse:
    """Exchange email (`username`) and password for an access token."""
    address = request.client.host if request.client else "unknown"
    # A NUL cannot be stored (the audit row of the failure) and matches no account: marked, it
    # fails like any unknown email.
    username = nul_marked(form.username)
    limiter = request.app.state.login_limiter
    retry_after = await limiter.refused_for(account=username, address=address)
    if retry_after is not None:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many login attempts; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
    try:
        user = await authenticate(conn, username, form.password)
    except LoginFailed as failed:
        await limiter.failed(account=username, address=address)
        # `authenticate`'s query opened a transaction, and the pool rolls a connection back when
        # the request ends in an error (the 401 below): commit the audit row explicitly.
        await audit.append_async(
            conn,
            audit.AuditEntry(
                actor=f"login:{username.strip()[:200]}",
                action="auth.login_failed",
                entity_type="user",
                entity_id=failed.user.id if failed.user else username.strip()[:200],
                after={"reason": failed.reason, "address": address},
            ),
        )
        await conn.commit()
        # One answer for every failure: the response must not tell which accounts exist.
        raise ApiError(
            401,
            "invalid_credentials",
            "incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    token, expires_at = issue_token(user, secret=request.app.state.jwt_secret, ttl=ttl)
    # Committed with the request (the pool commits a connection that ends without error).
    await audit.append_async(
        conn,
        audit.AuditEntry(
            actor=f"user:{user.email}",
            action="auth.login_succeeded",
            entity_type="user",
            entity_id=user.id,
            after={"address": address, "token_expires_at": expires_at.isoformat()},
        ),
    )
    # RFC 6749 5.1: a response carrying a token must not be cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenResponse(
        access_token=token,
        expires_at=expires_at,
        expires_in=int(ttl.total_seconds()),
        role=user.role,
    )


@router.get("/me", response_model=Me)
async def me(actor: ActorDep) -> Me:
    """The account behind the token, as it is now."""
    return Me(id=actor.user_id, email=actor.email, role=actor.role)
