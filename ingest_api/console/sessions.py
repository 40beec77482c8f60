"""Console sessions, kept in `orchestrator.console_sessions` (migration 0012).

The cookie carries 32 random bytes; the table keeps their SHA-256, so a copy of the table opens
no session. A session is refused after logout, after the idle timeout, past its absolute
expiry, for a disabled account, and when the password changed after the login."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ingest_api.actor import Actor
from orchestrator_core.logging import get_logger
from orchestrator_core.settings import Settings

# How stale `last_seen_at` may get before a request writes it again: the idle timeout is that
# much coarse, and browsing does not write a row per page.
_TOUCH_EVERY = timedelta(seconds=60)

log = get_logger(__name__)


@dataclass(frozen=True)
class ConsoleSession:
    id: int
    actor: Actor
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def open_session(
    conn: AsyncConnection[Any], settings: Settings, *, user_id: int, address: str
) -> tuple[str, datetime]:
    """A new session for the user: the cookie's token and when the session ends at the latest."""
    token = secrets.token_urlsafe(32)
    async with conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO orchestrator.console_sessions"
            " (token_hash, user_id, csrf_token, address, expires_at)"
            " VALUES (%s, %s, %s, %s, now() + make_interval(hours => %s))"
            " RETURNING expires_at",
            (
                _digest(token),
                user_id,
                secrets.token_urlsafe(32),
                address,
                settings.console_session_max_hours,
            ),
        )
        row = await cur.fetchone()
    assert row is not None
    expires_at: datetime = row[0]
    return token, expires_at


async def find_session(
    conn: AsyncConnection[Any], settings: Settings, token: str
) -> ConsoleSession | None:
    """The live session of a cookie's token, its idle clock restarted; None when there is none
    (and a session found dead is ended with the reason)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT s.id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, now() AS now,"
            "  u.id AS user_id, u.email, u.role, u.disabled_at, u.password_changed_at"
            " FROM orchestrator.console_sessions s"
            " JOIN orchestrator.users u ON u.id = s.user_id"
            " WHERE s.token_hash = %s AND s.ended_at IS NULL",
            (_digest(token),),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    now: datetime = row["now"]
    ended = _ended_reason(row, now, timedelta(minutes=settings.console_session_idle_minutes))
    if ended is not None:
        # Why a browser is asked to log in again: the operator's first question.
        log.info("console session ended", session_id=row["id"], reason=ended)
        await end_session(conn, row["id"], ended)
        return None
    if now - row["last_seen_at"] >= _TOUCH_EVERY:
        await conn.execute(
            "UPDATE orchestrator.console_sessions SET last_seen_at = now() WHERE id = %s",
            (row["id"],),
        )
    return ConsoleSession(
        id=row["id"],
        actor=Actor(user_id=row["user_id"], email=row["email"], role=row["role"]),
        csrf_token=row["csrf_token"],
        expires_at=row["expires_at"],
    )


def _ended_reason(row: dict[str, Any], now: datetime, idle: timedelta) -> str | None:
    if now >= row["expires_at"]:
        return "expired"
    if now - row["last_seen_at"] >= idle:
        return "idle"
    if row["disabled_at"] is not None or row["password_changed_at"] > row["created_at"]:
        return "refused"
    return None


async def end_session(conn: AsyncConnection[Any], session_id: int, reason: str) -> None:
    await conn.execute(
        "UPDATE orchestrator.console_sessions SET ended_at = now(), ended_reason = %s"
        " WHERE id = %s AND ended_at IS NULL",
        (reason, session_id),
    )
    # Committed even when the request goes on to fail (a redirect to the login is not one).
    await conn.commit()


def tokens_match(expected: str, given: str | None) -> bool:
    """A CSRF token compared in constant time."""
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())
