"""One error body for every failure: `{"error": {"code", "message", "details"}, "request_id"}`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator_core.refusals import RefusalCode, Refused

# The HTTP status of each reason the core's rules give for refusing an operation.
REFUSAL_STATUS: dict[RefusalCode, int] = {
    "invalid_email": 422,
    "invalid_role": 422,
    "weak_password": 422,
    "invalid_password": 422,
    "invalid_edits": 422,
    "user_exists": 409,
    "last_admin": 409,
    "already_decided": 409,
    "expired": 409,
    "forbidden": 403,
    "four_eyes": 403,
    "user_not_found": 404,
    "empty_selection": 422,
    "invalid_selection": 422,
    "selection_too_large": 422,
    "nothing_to_replay": 409,
    "action_not_offered": 422,
    "invalid_value": 422,
    "already_resolved": 409,
    "action_in_progress": 409,
}


# What a 503 for an unreachable database asks a client to wait before retrying.
UNAVAILABLE_RETRY_AFTER = {"Retry-After": "5"}


class JsonResponse(Response):
    """JSON rendered with orjson (datetimes, UUIDs, speed on the webhook path)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """An error the client can act on; raised anywhere, rendered by the handler below."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return JsonResponse(
        {"error": body, "request_id": request_id}, status_code=status_code, headers=headers
    )


# Renders an error as a page for the paths it claims (the console's), or None for JSON.
ErrorPage = Callable[[Request, int, str, str, Any, Mapping[str, str] | None], Response | None]


def install_error_handlers(
    app: FastAPI,
    *,
    pages: ErrorPage | None = None,
    allowed_methods: Callable[[str], set[str]] | None = None,
) -> None:
    """One error body for every failure; `pages` may answer instead with HTML;
    `allowed_methods(path)` gives the `Allow` of a 405 (every method of the path)."""

    def respond(
        request: Request,
        status_code: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        page = pages(request, status_code, code, message, details, headers) if pages else None
        if page is not None:
            return page
        return error_response(status_code, code, message, details=details, headers=headers)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return respond(request, exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return respond(request, REFUSAL_STATUS[exc.code], exc.code, exc.message, exc.details)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        return respond(request, 422, "invalid_request", "request parameters are invalid", details)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and allowed_methods is not None:
            methods = allowed_methods(request.url.path)
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        return respond(request, exc.status_code, code, str(exc.detail), None, headers or None)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
