"""Request context (a request id bound to every log line and echoed in `X-Request-ID`), the
response headers every answer carries, and a refusal of NUL characters in URLs."""

from __future__ import annotations

import html
import re
import time
import uuid
from urllib.parse import parse_qsl, unquote

import structlog
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest_api.errors import error_response

log = structlog.stdlib.get_logger("ingest_api.access")

# A caller's id is reused when it is a plain token; anything else gets a fresh one.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so it costs nothing on the hot webhook path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _CLIENT_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


def bind_run_to_request(workflow_run_id: int, correlation_id: object | None) -> None:
    """Name the workflow run a request acts on (and its correlation id) on the request's
    remaining log lines, its access line included: one grep for a correlation id then finds
    the API's requests about the run beside its Dagster lines."""
    structlog.contextvars.bind_contextvars(
        workflow_run_id=workflow_run_id,
        correlation_id=str(correlation_id) if correlation_id else None,
    )


# Every answer: no MIME sniffing. API answers hold account-scoped data: never cached.
_ALWAYS = [(b"x-content-type-options", b"nosniff")]
_API = [(b"cache-control", b"no-store")]
# Console pages: never cached, never framed, scripts and styles only from the product itself
# (no inline script, so an injected one does not run), forms posted only to the product.
_CONSOLE = [
    *_API,
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        b" connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none';"
        b" object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def _extra_headers(path: str) -> list[tuple[bytes, bytes]]:
    if path.startswith("/api/"):
        return _ALWAYS + _API
    if path == "/console" or (
        path.startswith("/console/") and not path.startswith("/console/static/")
    ):
        return _ALWAYS + _CONSOLE
    return _ALWAYS


class SecurityHeadersMiddleware:
    """`X-Content-Type-Options: nosniff` on every response, `Cache-Control: no-store` on the
    API's and the console's, and the console's content security policy (pure ASGI, like the
    request context)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _extra_headers(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [h for h in extra if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RefuseNulInUrlMiddleware:
    """A NUL character in the path or a query parameter is refused with 422 naming where:
    Postgres text cannot hold one, so it would otherwise fail as a 500 in whatever query the
    value reaches. Bodies are checked by their own models."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _nul_in_url(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        message = f"{where} contains a NUL character (%00), which no parameter may hold"
        response: Response
        if scope["path"] == "/console" or scope["path"].startswith("/console/"):
            response = HTMLResponse(_PLAIN_PAGE.format(message=html.escape(message)), 422)
        else:
            response = error_response(
                422,
                "invalid_request",
                message,
                details=[{"field": where, "message": "contains a NUL character"}],
            )
        await response(scope, receive, send)


# The console's answer, before any template (or session) is involved.
_PLAIN_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>422</title></head>'
    '<body><h1>Not a valid address</h1><p role="alert">{message}</p>'
    '<p><a href="/console">Back to the overview</a></p></body></html>'
)


def _nul_in_url(scope: Scope) -> str | None:
    if "\x00" in scope["path"] or "\x00" in unquote(scope.get("raw_path", b"").decode("latin-1")):
        return "the path"
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" not in query and "\x00" not in query:
        return None
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if "\x00" in name:
            return "a query parameter's name"
        if "\x00" in value:
            return f"query.{name}"
    return None
