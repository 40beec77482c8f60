"""Login rate limits on failures, shared by every API process through Postgres: per account
from one client address (LOGIN_LIMIT_PER_ACCOUNT) and per client address over every account
(LOGIN_LIMIT_PER_ADDRESS), each a moving window in the `limits` notation ("5/minute").

Only failures count, and an account's count is kept per address: nobody can lock an account
out by failing to log in to it from elsewhere, a user's own successful logins never count, and
guessing is still bounded per address and per account-and-address.

The counts live in `orchestrator.login_failures` (migration 0016), one row per counted attempt,
so N API replicas of W workers allow the limit once between them, not N * W times, and a
restart forgets nothing. No library does this: `limits` (which parses the settings) stores its
windows in memory, Redis, Memcached or MongoDB only, and the product's one shared store is
Postgres.

An attempt is admitted or refused under a transaction-level advisory lock on its client address
(every window of an attempt is keyed by the address, so one lock covers both), and an admitted
attempt is counted at once, before its password is checked: two processes trying the same
account at the same moment cannot both pass the last free place. The count is released when
the login succeeds (in the request's transaction); a failure, or an attempt that never gets an
answer (the process dies, the database fails), stays counted. Timestamps are the server's
clock, one clock for every process. Each admission also deletes a bounded batch of rows no
window can see any more, whatever their key, so the table holds about one window of attempts.
Every process must run with the same two settings (a shorter window elsewhere would sweep rows
this one still counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from limits import parse
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from orchestrator_core.db.locks import lock_key

# Expired rows deleted by one admission at most: bounded work, still far more than it adds (2).
SWEEP_BATCH = 100
# Longest account name kept in a key (an email has at most 320 characters); longer input is a
# guess anyway, and an index entry must stay small.
_ACCOUNT_CHARS = 320


@dataclass(frozen=True)
class Window:
    """At most `limit` counted attempts in any `seconds`."""

    limit: int
    seconds: int

    @classmethod
    def parse(cls, notation: str) -> Window:
        item = parse(notation)
        return cls(limit=item.amount, seconds=item.get_expiry())


@dataclass(frozen=True)
class Admitted:
    """An attempt that may check its password; `counted` are its rows, released on success."""

    counted: tuple[int, ...]


@dataclass(frozen=True)
class Throttled:
    """An attempt refused before its password is looked at, counting nothing."""

    retry_after: int  # whole seconds, at least 1


class LoginLimiter:
    """The two login windows over `orchestrator.login_failures`; holds no state of its own."""

    def __init__(self, *, per_account: str, per_address: str) -> None:
        self._per_account = Window.parse(per_account)
        self._per_address = Window.parse(per_address)

    def _keys(self, account: str, address: str) -> list[tuple[str, Window]]:
        name = account.strip().lower()[:_ACCOUNT_CHARS]
        return [
            (f"account {address} {name}", self._per_account),
            (f"address {address}", self._per_address),
        ]

    async def admit(
        self, conn: AsyncConnection[Any], *, account: str, address: str
    ) -> Admitted | Throttled:
        """Count a login attempt to `account` from `address` before its password is checked,
        or refuse it while a window is full; committed on `conn`, which must have no
        transaction open (the count must be visible to every process before the check)."""
        if conn.info.transaction_status != TransactionStatus.IDLE:
            raise RuntimeError("admit needs a connection with no transaction open")
        keys = self._keys(account, address)
        windows = [(key, window.limit - 1, window.seconds) for key, window in keys]
        longest = max(window.seconds for _, window in keys)
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(%s::bigint)", (lock_key("login-address", address),)
            )
            # Per window, the limit-th most recent attempt: while the window still sees it,
            # the window is full until it leaves.
            cursor = await conn.execute(
                "SELECT max(extract(epoch FROM nth.at - clock_timestamp()) + w.seconds)"
                " FROM (VALUES (%s, %s::int, %s::int), (%s, %s::int, %s::int))"
                "   AS w (key, skip, seconds)"
                " CROSS JOIN LATERAL (SELECT f.at FROM orchestrator.login_failures f"
                "   WHERE f.key = w.key ORDER BY f.at DESC OFFSET w.skip LIMIT 1) nth",
                [value for window in windows for value in window],
            )
            row = await cursor.fetchone()
            wait = row[0] if row else None
            if wait is not None and wait > 0:
                return Throttled(retry_after=max(1, math.ceil(wait)))
            cursor = await conn.execute(
                "WITH swept AS ("
                "  DELETE FROM orchestrator.login_failures WHERE id IN ("
                "    SELECT id FROM orchestrator.login_failures"
                "    WHERE at < clock_timestamp() - make_interval(secs => %s)"
                "    ORDER BY at LIMIT %s FOR UPDATE SKIP LOCKED))"
                " INSERT INTO orchestrator.login_failures (key, at)"
                " SELECT key, clock_timestamp() FROM unnest(%s::text[]) AS k (key)"
                " RETURNING id",
                (longest, SWEEP_BATCH, [key for key, _ in keys]),
            )
            counted = tuple(int(id_) for (id_,) in await cursor.fetchall())
        return Admitted(counted=counted)

    @staticmethod
    async def succeeded(conn: AsyncConnection[Any], admitted: Admitted) -> None:
        """The attempt logged in: it no longer counts (in `conn`'s transaction, so a login
        whose success is rolled back stays counted)."""
        await conn.execute(
            "DELETE FROM orchestrator.login_failures WHERE id = ANY(%s)", (list(admitted.counted),)
        )
