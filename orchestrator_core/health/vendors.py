"""Each vendor connector's mode and reachability: one cheap authenticated read per vendor
(`PROBES`), a short timeout, no retry, run in threads.

Plain HTTP (httpx) on endpoints the connectors' official clients also call, so the API can
check without importing the connectors (the import contracts forbid it); `orchestrator doctor`
uses the same checks. In the API a
`VendorMonitor` reuses each result for a TTL: vendors are not called on every request, and
concurrent requests share one check in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from orchestrator_core.health.model import Check, Status, elapsed_ms, safe_error
from orchestrator_core.vendor_connections import Connection, Vendor, safe_url

# What the check found: doctor's words.
Reachability = Literal["ok", "unreachable", "auth failed", "error", "misconfigured", "not used"]
# How the connector is set up: the vendor, the sandbox, or nothing (OpenAI without a key).
HealthMode = Literal["live", "sandbox", "not configured"]

# (path under the connection's base URL, query): the cheapest authenticated read of each vendor.
PROBES: dict[Vendor, tuple[str, dict[str, str]]] = {
    "hubspot": ("/crm/v3/objects/companies", {"limit": "1", "archived": "false"}),
    "airtable": ("/v0/meta/whoami", {}),
    "notion": ("/v1/users/me", {}),
    "google": ("/calendar/v3/users/me/calendarList", {"maxResults": "1"}),
    "openai": ("/models", {}),
}
NOTION_VERSION = "2022-06-28"
GOOGLE_SCOPES = (
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/drive",
)


class _Misconfigured(Exception):
    """The connection cannot be used as configured (say, an unreadable key file)."""


class _Refused(Exception):
    """The credential was refused before the call (a service account's token exchange)."""


@dataclass(frozen=True)
class VendorCheck:
    """One vendor's check: how it is set up and what its cheap call answered."""

    vendor: Vendor
    mode: HealthMode
    base_url: str  # without user info, query or fragment
    reachability: Reachability
    detail: str  # never a credential
    latency_ms: float | None
    checked_at: datetime

    @property
    def status(self) -> Status:
        if self.reachability == "not used":
            return "not configured"
        return "ok" if self.reachability == "ok" else "down"

    @property
    def usable(self) -> bool:
        return self.status != "down"

    def as_check(self) -> Check:
        return Check(
            self.status,
            self.latency_ms,
            None if self.usable else self.detail,
            {
                "mode": self.mode,
                "reachability": self.reachability,
                "detail": self.detail,
                "base_url": self.base_url,
                "checked_at": self.checked_at.isoformat(),
            },
        )


def health_mode(connection: Connection) -> HealthMode:
    return "not configured" if connection.mode == "rules" else connection.mode


def check_vendor(connection: Connection, *, timeout: float) -> VendorCheck:
    """Call the vendor once (blocking); never raises."""
    url = safe_url(connection.base_url)
    now = datetime.now(UTC)
    mode = health_mode(connection)
    if connection.mode == "rules":
        return VendorCheck(
            connection.vendor, mode, url, "not used", "OPENAI_API_KEY unset: enrichment uses rules",
            None, now,
        )  # fmt: skip
    secrets = _secrets(connection)
    started = time.perf_counter()

    def result(reachability: Reachability, detail: str) -> VendorCheck:
        return VendorCheck(
            connection.vendor, mode, url, reachability, safe_error(detail, secrets),
            elapsed_ms(started), now,
        )  # fmt: skip

    try:
        token = _token(connection, timeout=timeout)
        path, params = PROBES[connection.vendor]
        headers = {"Authorization": f"Bearer {token}"}
        if connection.vendor == "notion":
            headers["Notion-Version"] = NOTION_VERSION
        response = httpx.get(
            f"{connection.base_url}{path}",
            params=params,
            headers=headers,
            timeout=timeout,
            follow_redirects=False,
        )
    except _Misconfigured as exc:
        return result("misconfigured", str(exc))
    except _Refused as exc:
        return result("auth failed", str(exc))
    except httpx.TimeoutException as exc:
        return result("unreachable", f"no answer within {timeout:g} s ({type(exc).__name__})")
    except (httpx.HTTPError, OSError) as exc:
        detail = safe_error(exc, secrets)
        if connection.mode == "sandbox":
            detail += "; start it with `orchestrator sandbox`"
        return result("unreachable", detail)
    status = response.status_code
    if status in (401, 403):
        return result("auth failed", f"the credential was refused (HTTP {status})")
    if status == 429:
        return result("ok", "reachable (rate limited right now)")
    if status >= 500:
        return result("error", f"HTTP {status} {response.reason_phrase}")
    if status >= 400:
        # The service answered (a sandbox or proxy without the check endpoint, say).
        return result("ok", f"reachable (check call answered HTTP {status})")
    return result("ok", "authenticated call succeeded")


def check_vendors(connections: Sequence[Connection], *, timeout: float) -> list[VendorCheck]:
    """Every connection checked at once, in threads (for the command line)."""
    with ThreadPoolExecutor(max_workers=max(1, len(connections))) as pool:
        futures = [pool.submit(check_vendor, c, timeout=timeout) for c in connections]
        return [future.result() for future in futures]


class VendorMonitor:
    """The vendors' last known reachability for a long-lived process (the API): a result is
    reused for `ttl` seconds, a check runs in this monitor's threads (never on the event loop)
    and concurrent callers wait for the same one."""

    def __init__(self, connections: Sequence[Connection], *, ttl: float, timeout: float) -> None:
        self.connections = tuple(connections)
        self.ttl = ttl
        self.timeout = timeout
        self._results: dict[Vendor, tuple[float, VendorCheck]] = {}
        self._in_flight: dict[Vendor, asyncio.Future[VendorCheck]] = {}
        self._executor: ThreadPoolExecutor | None = None

    async def checks(self) -> dict[Vendor, VendorCheck]:
        """Each vendor's check, at most `ttl` seconds old (waiting at most about twice the
        timeout for a new one; the previous result, if any, while it is still running)."""
        found = await asyncio.gather(*(self._check(c) for c in self.connections))
        return {check.vendor: check for check in found}

    async def _check(self, connection: Connection) -> VendorCheck:
        vendor = connection.vendor
        cached = self._results.get(vendor)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        future = self._in_flight.get(vendor)
        if future is None:
            future = asyncio.get_running_loop().run_in_executor(
                self._pool(), lambda: check_vendor(connection, timeout=self.timeout)
            )
            future.add_done_callback(lambda done: self._store(vendor, done))
            self._in_flight[vendor] = future
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=2 * self.timeout + 1)
        except TimeoutError:
            if cached is not None:
                return cached[1]
            return VendorCheck(
                vendor, health_mode(connection), safe_url(connection.base_url), "unreachable",
                "the check is still running", None, datetime.now(UTC),
            )  # fmt: skip

    def _store(self, vendor: Vendor, done: asyncio.Future[VendorCheck]) -> None:
        self._in_flight.pop(vendor, None)
        if not done.cancelled() and done.exception() is None:
            self._results[vendor] = (time.monotonic(), done.result())

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=max(1, len(self.connections)), thread_name_prefix="vendor-health"
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _secrets(connection: Connection) -> tuple[str, ...]:
    return (connection.credential.get_secret_value(),) if connection.credential else ()


def _token(connection: Connection, *, timeout: float) -> str:
    """The bearer token: the configured credential, or (Google) one from the service-account
    key file."""
    if connection.credential is not None:
        return connection.credential.get_secret_value()
    path = connection.credential_file
    if path is None or not path.is_file():
        raise _Misconfigured(f"{connection.vendor}: the service-account file does not exist")
    # Only when such a file is configured: google-auth is no import of the API otherwise.
    from google.auth.exceptions import GoogleAuthError, RefreshError
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    try:
        credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(path), scopes=list(GOOGLE_SCOPES)
        )
    except (ValueError, KeyError) as exc:
        raise _Misconfigured(
            f"{connection.vendor}: the service-account file is not a valid key"
            f" ({type(exc).__name__})"
        ) from None
    request = Request()

    def bounded(*args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = timeout
        return request(*args, **kwargs)

    try:
        credentials.refresh(bounded)
    except RefreshError as exc:
        raise _Refused(f"google: the token exchange was refused ({type(exc).__name__})") from None
    except GoogleAuthError as exc:
        raise httpx.ConnectError(f"token exchange failed ({type(exc).__name__})") from None
    return str(credentials.token)
