"""What an `/api` request must show before its body is read: a declared length within
API_MAX_BODY_BYTES, and (outside the login) a valid access token.

FastAPI reads and parses a body before it runs the dependencies that check the token, so
without this an anonymous client could make the process that also takes HubSpot's webhooks
read and parse a body of any size, only to answer 401. Here the refusal comes from the headers
alone: 413 for a declared length over the limit, 411 for a body without one (chunked), 401 for
a missing or bad token; the body is never read. The full check (the account, its role) still
runs in the route's dependencies. The webhook and the console bound their own bodies.
"""

from __future__ import annotations

from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest_api.auth.access import needs_token, token_claims
from ingest_api.errors import ApiError, error_response

API_PREFIX = "/api/"


class ApiBodyGuardMiddleware:
    """Pure ASGI, like the other middleware: it costs a header lookup per request."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, jwt_secret: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.jwt_secret = jwt_secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            try:
                self._check(scope)
            except ApiError as refused:
                response = error_response(
                    refused.status_code, refused.code, refused.message, headers=refused.headers
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> None:
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is None:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                raise ApiError(
                    411,
                    "length_required",
                    "an /api request body needs a Content-Length header (chunked bodies are"
                    " not accepted)",
                )
            return  # no body
        if declared.strip() == "0":
            return
        if not declared.isdigit() or int(declared) > self.max_body_bytes:
            raise ApiError(
                413,
                "payload_too_large",
                f"an /api request body is at most {self.max_body_bytes} bytes (API_MAX_BODY_BYTES)",
            )
        # Only a request that reaches a route of the matrix: any other gets its 404 or 405 from
        # the router, which does not read the body either.
        if needs_token(scope["method"], scope["path"]):
            scheme, token = get_authorization_scheme_param(headers.get("authorization"))
            token_claims(token if scheme.lower() == "bearer" and token else None, self.jwt_secret)
