"""Login rate limits on failures, by the `limits` library's moving window: per account from
one client address (LOGIN_LIMIT_PER_ACCOUNT) and per client address over every account
(LOGIN_LIMIT_PER_ADDRESS).

Only failures count, and an account's count is kept per address: nobody can lock an account
out by failing to log in to it from elsewhere, a user's own successful logins never count, and
guessing is still bounded per address and per account-and-address.

Counts are kept in the API process: with several workers each keeps its own, so the effective
limit is the setting times the worker count (every failure is also in the audit log).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from orchestrator_core.settings import Settings


class LoginLimiter:
    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_account: RateLimitItem = parse(settings.login_limit_per_account)
        self._per_address: RateLimitItem = parse(settings.login_limit_per_address)

    def _windows(self, account: str, address: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        return [
            (self._per_account, ("account", account.strip().lower(), address)),
            (self._per_address, ("address", address)),
        ]

    async def refused_for(self, *, account: str, address: str) -> int | None:
        """None if a login to `account` from `address` may be tried now, else the seconds
        until it may (checked before the password is, counting nothing)."""
        for item, key in self._windows(account, address):
            if not await self._limiter.test(item, *key):
                stats = await self._limiter.get_window_stats(item, *key)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None

    async def failed(self, *, account: str, address: str) -> None:
        """Count a failed login."""
        for item, key in self._windows(account, address):
            await self._limiter.hit(item, *key)
