"""Per-vendor rate limits, counted like the vendors count them (moving windows, in memory).

- HubSpot: `requests_per_window` per `window_seconds` per token, and CRM search separately at
  `search_requests_per_second` per token.
- Airtable: `requests_per_second` per base; a request over it also puts the base in a penalty
  of `penalty_seconds` during which every request to it is refused, as Airtable does.
- Notion, Google (per API: calendar, drive) and OpenAI: one window per token.

State is per process: several sandbox processes each count their own traffic.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from sandbox.config import SandboxConfig, Vendor, WindowLimit

_HUBSPOT_SEARCH = re.compile(r"^/crm/v3/objects/[^/]+/search/?$")
_AIRTABLE_BASE = re.compile(r"^/v0/(?P<base>[^/]+)/")
_GOOGLE_API = re.compile(r"^/(?P<api>calendar|drive)/")


@dataclass(frozen=True)
class Allowed:
    """The request fits; what is left of its window (HubSpot reports it in headers)."""

    bucket: str
    limit: int
    remaining: int
    window_seconds: int


@dataclass(frozen=True)
class Refused:
    """The request is over a limit; the client should wait `retry_after` seconds."""

    bucket: str
    limit: int
    window_seconds: int
    retry_after: int
    # True while an Airtable base serves its penalty, rather than for the request itself.
    penalised: bool = False


@dataclass(frozen=True)
class _Bucket:
    name: str
    item: RateLimitItem
    identifiers: tuple[str, ...]
    window_seconds: int


class RateLimits:
    """Decides, per request, whether it fits its vendor's limits, and counts it if so."""

    def __init__(
        self, config: SandboxConfig, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._monotonic = monotonic
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._penalised_until: dict[str, float] = {}

    def check(self, vendor: Vendor, path: str, token: str) -> Allowed | Refused:
        """Count a request to `path` (below the vendor prefix) made with `token`."""
        bucket = self._bucket(vendor, path, token)
        if vendor == "airtable":
            refused = self._penalty(bucket)
            if refused is not None:
                return refused
        if self._limiter.hit(bucket.item, *bucket.identifiers):
            stats = self._limiter.get_window_stats(bucket.item, *bucket.identifiers)
            return Allowed(
                bucket=bucket.name,
                limit=bucket.item.amount,
                remaining=max(stats.remaining, 0),
                window_seconds=bucket.window_seconds,
            )
        stats = self._limiter.get_window_stats(bucket.item, *bucket.identifiers)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        if vendor == "airtable" and self._config.airtable.penalty_seconds > 0:
            penalty = self._config.airtable.penalty_seconds
            self._penalised_until[bucket.name] = self._monotonic() + penalty
            retry_after = max(retry_after, math.ceil(penalty))
        return Refused(
            bucket=bucket.name,
            limit=bucket.item.amount,
            window_seconds=bucket.window_seconds,
            retry_after=retry_after,
        )

    def close(self) -> None:
        """Stop the storage's expiry timer."""
        self._storage.timer.cancel()

    def _penalty(self, bucket: _Bucket) -> Refused | None:
        until = self._penalised_until.get(bucket.name)
        if until is None:
            return None
        left = until - self._monotonic()
        if left <= 0:
            del self._penalised_until[bucket.name]
            return None
        return Refused(
            bucket=bucket.name,
            limit=bucket.item.amount,
            window_seconds=bucket.window_seconds,
            retry_after=max(1, math.ceil(left)),
            penalised=True,
        )

    def _bucket(self, vendor: Vendor, path: str, token: str) -> _Bucket:
        config = self._config
        match vendor:
            case "hubspot":
                if _HUBSPOT_SEARCH.match(path):
                    per_second = config.hubspot.search_requests_per_second
                    return _window("hubspot-search", WindowLimit(requests=per_second), token)
                general = WindowLimit(
                    requests=config.hubspot.requests_per_window,
                    window_seconds=config.hubspot.window_seconds,
                )
                return _window("hubspot", general, token)
            case "airtable":
                match = _AIRTABLE_BASE.match(path)
                base = match.group("base") if match else "-"
                limit = WindowLimit(requests=config.airtable.requests_per_second)
                # Per base, whoever asks: tokens of one base share its limit.
                return _window(f"airtable:{base}", limit, "")
            case "notion":
                return _window("notion", config.notion.limit, token)
            case "google":
                match = _GOOGLE_API.match(path)
                api = match.group("api") if match else "calendar"
                limit = config.google.drive if api == "drive" else config.google.calendar
                return _window(f"google-{api}", limit, token)
            case "openai":
                return _window("openai", config.openai.limit, token)


def _window(name: str, limit: WindowLimit, identifier: str) -> _Bucket:
    return _Bucket(
        name=name,
        item=RateLimitItemPerSecond(limit.requests, limit.window_seconds, namespace=name),
        identifiers=(identifier,),
        window_seconds=limit.window_seconds,
    )
