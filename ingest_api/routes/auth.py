"""Login: `POST /api/auth/token` (OAuth2 password form) → a short-lived bearer token; and
`GET /api/auth/me`, who the token belongs to."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from ingest_api.auth.access import ActorDep
from ingest_api.auth.login import check_login, record_login
from ingest_api.auth.tokens import issue_token
from ingest_api.deps import ConnectionDep, SettingsDep

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
    user = await check_login(request, conn, form.username, form.password)
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    token, expires_at = issue_token(user, secret=request.app.state.jwt_secret, ttl=ttl)
    # Committed with the request (the pool commits a connection that ends without error).
    await record_login(conn, request, user, token_expires_at=expires_at.isoformat())
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
