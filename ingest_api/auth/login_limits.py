"""Login rate limits: attempts per account and per client address, by the `limits` library's
moving window (LOGIN_LIMIT_PER_ACCOUNT, LOGIN_LIMIT_PER_ADDRESS).

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

    async def attempt(self, *, account: str, address: str) -> int | None:
        """Count one attempt; None if allowed, else the seconds until the next is."""
        checks = (
            (self._per_account, ("account", account.strip().lower())),
            (self._per_address, ("address", address)),
        )
        for item, key in checks:
            if not await self._limiter.hit(item, *key):
                stats = await self._limiter.get_window_stats(item, *key)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None
