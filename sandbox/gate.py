"""The gate every vendor request passes: auth, rate limits, injected faults, the request log.

Pure ASGI, in front of the routers: a request under `/<vendor>/` is refused here (401, 429),
failed, delayed or hung as the config says, or passed on; every outcome is logged to
`sandbox.requests` before the answer leaves, so a test that has its answer sees the log row.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.config import VENDORS, Vendor
from sandbox.errors import VendorError, generic_error
from sandbox.limits import Allowed, Refused
from sandbox.runtime import Runtime
from sandbox.state import LoggedRequest, Store

log = structlog.stdlib.get_logger("sandbox.gate")

# The vendor APIs that refuse a request without `Authorization: Bearer …`. The OpenAI router
# (another module) checks its own key.
_BEARER_VENDORS: frozenset[Vendor] = frozenset({"hubspot", "airtable", "notion", "google"})


def split_vendor(path: str) -> tuple[Vendor, str] | None:
    """`/hubspot/crm/v3/...` → ("hubspot", "/crm/v3/..."); None outside the vendor prefixes."""
    head, _, rest = path.lstrip("/").partition("/")
    for vendor in VENDORS:
        if head == vendor:
            return vendor, f"/{rest}"
    return None


@dataclass
class _Exchange:
    vendor: Vendor
    method: str
    path: str
    query: str
    received_at: datetime
    started: float


class VendorGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        split = split_vendor(scope["path"]) if scope["type"] == "http" else None
        if split is None:
            await self.app(scope, receive, send)
            return
        vendor, sub_path = split
        runtime: Runtime = scope["app"].state.runtime
        exchange = _Exchange(
            vendor=vendor,
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            received_at=datetime.now(UTC),
            started=time.perf_counter(),
        )
        token = _bearer_token(scope)
        if vendor in _BEARER_VENDORS and not token:
            error = generic_error(vendor, "unauthorized")
            await self._refuse(runtime, exchange, error, scope, send, outcome="unauthorized")
            return

        decision = runtime.limits.check(vendor, sub_path, token)
        if isinstance(decision, Refused):
            outcome = "penalised" if decision.penalised else "rate_limited"
            error = _rate_limited(vendor, decision)
            await self._refuse(runtime, exchange, error, scope, send, outcome=outcome)
            return
        headers = _allowance_headers(vendor, decision)

        fault = runtime.faults.draw(vendor, exchange.path, exchange.method)
        if fault is None:
            await self._serve(runtime, exchange, "ok", headers, scope, receive, send)
            return
        match fault.kind:
            case "error_429":
                error = generic_error(vendor, "rate_limited").with_headers({"Retry-After": "1"})
                await self._refuse(runtime, exchange, error, scope, send, outcome="fault_429")
            case "error_500":
                error = generic_error(vendor, "server_error")
                await self._refuse(runtime, exchange, error, scope, send, outcome="fault_500")
            case "timeout":
                # Logged first: the client gives up long before the answer.
                error = generic_error(vendor, "unavailable")
                await self._log(runtime, exchange, error.status, "fault_timeout")
                await asyncio.sleep(fault.seconds)
                await _send_error(error, scope, send)
            case "slow":
                # A slow vendor has the request and works on it whether or not the client
                # still waits: the body is taken first, so a client that gave up before the
                # answer still finds the write applied (the server ignores the late answer).
                taken = await _buffered(receive)
                await asyncio.sleep(fault.seconds)
                await self._serve(runtime, exchange, "slow", headers, scope, taken, send)
            case "lost_response":
                await self._serve_late(
                    runtime, exchange, fault.seconds, headers, scope, receive, send
                )

    async def _serve(
        self,
        runtime: Runtime,
        exchange: _Exchange,
        outcome: str,
        headers: list[tuple[bytes, bytes]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
                await self._log(runtime, exchange, message["status"], outcome)
            await send(message)

        await self.app(scope, receive, send_logged)

    async def _serve_late(
        self,
        runtime: Runtime,
        exchange: _Exchange,
        hang: float,
        headers: list[tuple[bytes, bytes]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Apply the request, then hold its answer back for `hang` seconds."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        status = next(m["status"] for m in held if m["type"] == "http.response.start")
        await self._log(runtime, exchange, status, "fault_lost_response")
        await asyncio.sleep(hang)
        for message in held:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

    async def _refuse(
        self,
        runtime: Runtime,
        exchange: _Exchange,
        error: VendorError,
        scope: Scope,
        send: Send,
        *,
        outcome: str,
    ) -> None:
        await self._log(runtime, exchange, error.status, outcome)
        await _send_error(error, scope, send)

    async def _log(self, runtime: Runtime, exchange: _Exchange, status: int, outcome: str) -> None:
        entry = LoggedRequest(
            vendor=exchange.vendor,
            method=exchange.method,
            path=exchange.path,
            query=exchange.query,
            status=status,
            outcome=outcome,
            received_at=exchange.received_at,
            duration_ms=round((time.perf_counter() - exchange.started) * 1000, 3),
        )
        try:
            async with runtime.pool.connection() as conn:
                await Store(conn).log_request(entry)
        except Exception:
            # The log is for inspection; a request must not fail because of it.
            log.warning("request log write failed", exc_info=True)


async def _buffered(receive: Receive) -> Receive:
    """The request body read now, and a `receive` that hands it to the app later; after the
    body, it passes on to the server's own (a disconnect, once the client has gone)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # gone before the whole body came: not applied
            body = [message]
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            body = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
            break

    async def replay() -> Message:
        return body.pop() if body else await receive()

    return replay


async def _send_error(error: VendorError, scope: Scope, send: Send) -> None:
    async def no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    response = JSONResponse(error.body, status_code=error.status, headers=error.headers)
    await response(scope, no_body, send)


def _bearer_token(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            header: str = value.decode("latin-1")
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


def _rate_limited(vendor: Vendor, refused: Refused) -> VendorError:
    headers = {"Retry-After": str(refused.retry_after)}
    if vendor == "hubspot":
        if refused.bucket == "hubspot-search":
            error = generic_error(vendor, "rate_limited", "You have reached your secondly limit.")
            error.body["policyName"] = "SECONDLY"
        else:
            error = generic_error(vendor, "rate_limited")
            headers.update(_hubspot_headers(refused.limit, 0, refused.window_seconds))
        return error.with_headers(headers)
    return generic_error(vendor, "rate_limited").with_headers(headers)


def _allowance_headers(vendor: Vendor, allowed: Allowed) -> list[tuple[bytes, bytes]]:
    # HubSpot reports its ten-secondly window on every answer except search's.
    if vendor != "hubspot" or allowed.bucket != "hubspot":
        return []
    headers = _hubspot_headers(allowed.limit, allowed.remaining, allowed.window_seconds)
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]


def _hubspot_headers(limit: int, remaining: int, window_seconds: int) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Remaining": str(remaining),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(window_seconds * 1000),
    }
