"""Checking a login, for the API's token endpoint and the console's login form alike: the same
rate limits, the same single answer for every failure, the same audit rows."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from psycopg import AsyncConnection

from ingest_api.errors import ApiError
from orchestrator_core import audit
from orchestrator_core.login_limits import LoginLimiter, Throttled
from orchestrator_core.text import nul_marked
from orchestrator_core.users import LoginFailed, User, authenticate


def client_address(request: Request) -> str:
    """The caller's address (the proxy's client only where `FORWARDED_ALLOW_IPS` trusts it)."""
    return request.client.host if request.client else "unknown"


async def check_login(
    request: Request, conn: AsyncConnection[Any], username: str, password: str
) -> User:
    """The account these credentials open; 429 while the address or account is throttled,
    401 (one answer, whatever failed) otherwise, the failure counted and audited.

    Must be the request's first use of `conn` (the attempt's count commits on it)."""
    address = client_address(request)
    # A NUL cannot be stored (the audit row of the failure) and matches no account: marked, it
    # fails like any unknown email.
    username = nul_marked(username)
    limiter: LoginLimiter = request.app.state.login_limiter
    # Counted (in every API process) before the password is checked; released on success.
    attempt = await limiter.admit(conn, account=username, address=address)
    if isinstance(attempt, Throttled):
        request.app.state.metrics.login_failed("throttled")
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many login attempts; retry in {attempt.retry_after} s",
            headers={"Retry-After": str(attempt.retry_after)},
        )
    try:
        user = await authenticate(conn, username, password)
    except LoginFailed as failed:
        # The attempt stays counted.
        request.app.state.metrics.login_failed(failed.reason)
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
    # Committed with the request, like its audit row.
    await limiter.succeeded(conn, attempt)
    return user


async def record_login(
    conn: AsyncConnection[Any], request: Request, user: User, **details: str
) -> None:
    """The audit row of a successful login, committed with the request."""
    await audit.append_async(
        conn,
        audit.AuditEntry(
            actor=f"user:{user.email}",
            action="auth.login_succeeded",
            entity_type="user",
            entity_id=user.id,
            after={"address": client_address(request), **details},
        ),
    )
