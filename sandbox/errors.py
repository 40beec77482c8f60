"""Error bodies exactly as each vendor sends them, so the official clients parse them.

Handlers raise `VendorError`; the app renders it. Shapes:
- HubSpot: `{"status": "error", "message", "correlationId", "category"}` (+ `errorType`,
  `policyName` on rate limits).
- Airtable: `{"error": {"type", "message"}}`; rate limits `{"errors": [{"error", "message"}]}`.
- Notion: `{"object": "error", "status", "code", "message"}`; any other shape makes
  notion-client raise `UnknownHTTPResponseError`.
- Google: `{"error": {"code", "message", "errors": [{"domain", "reason", "message"}], "status"}}`.
- OpenAI: `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from sandbox.config import Vendor

JsonObject = dict[str, Any]

GenericKind = Literal[
    "rate_limited", "server_error", "unavailable", "unauthorized", "not_found", "invalid"
]


class VendorError(Exception):
    """An HTTP error answer: status, the vendor-shaped body and extra headers."""

    def __init__(
        self, status: int, body: JsonObject, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def with_headers(self, headers: Mapping[str, str]) -> VendorError:
        return VendorError(self.status, self.body, {**self.headers, **headers})


def hubspot_error(
    status: int, category: str, message: str, *, extra: Mapping[str, Any] | None = None
) -> VendorError:
    body: JsonObject = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    body.update(extra or {})
    return VendorError(status, body)


def airtable_error(status: int, error_type: str, message: str) -> VendorError:
    return VendorError(status, {"error": {"type": error_type, "message": message}})


def notion_error(status: int, code: str, message: str) -> VendorError:
    return VendorError(
        status,
        {
            "object": "error",
            "status": status,
            "code": code,
            "message": message,
            "request_id": str(uuid.uuid4()),
        },
    )


_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def google_error(
    status: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    location: str | None = None,
    location_type: str | None = None,
) -> VendorError:
    detail: JsonObject = {"domain": domain, "reason": reason, "message": message}
    if location is not None:
        detail["location"] = location
        detail["locationType"] = location_type or "parameter"
    error: JsonObject = {"code": status, "message": message, "errors": [detail]}
    if status in _GOOGLE_STATUS:
        error["status"] = _GOOGLE_STATUS[status]
    return VendorError(status, {"error": error})


def openai_error(status: int, error_type: str, message: str, code: str | None) -> VendorError:
    return VendorError(
        status, {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    )


def generic_error(vendor: Vendor, kind: GenericKind, message: str | None = None) -> VendorError:
    """The error a vendor answers for a failure that is not specific to one endpoint."""
    builder = _GENERIC[vendor]
    return builder(kind, message)


def _hubspot_generic(kind: GenericKind, message: str | None) -> VendorError:
    match kind:
        case "rate_limited":
            return hubspot_error(
                429,
                "RATE_LIMITS",
                message or "You have reached your ten_secondly_rolling limit.",
                extra={"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
            )
        case "server_error":
            return hubspot_error(500, "INTERNAL_ERROR", message or "internal error")
        case "unavailable":
            return hubspot_error(503, "SERVICE_UNAVAILABLE", message or "service unavailable")
        case "unauthorized":
            return hubspot_error(
                401,
                "INVALID_AUTHENTICATION",
                message
                or "Authentication credentials not found. This API supports OAuth 2.0"
                " authentication and you can find more details at"
                " https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        case "not_found":
            return hubspot_error(404, "OBJECT_NOT_FOUND", message or "resource not found")
        case "invalid":
            return hubspot_error(400, "VALIDATION_ERROR", message or "Invalid input JSON")


def _airtable_generic(kind: GenericKind, message: str | None) -> VendorError:
    match kind:
        case "rate_limited":
            return VendorError(
                429,
                {
                    "errors": [
                        {
                            "error": "RATE_LIMIT_REACHED",
                            "message": message or "Rate limit exceeded. Please try again later",
                        }
                    ]
                },
            )
        case "server_error":
            return airtable_error(
                500,
                "SERVER_ERROR",
                message or "Try again. If the problem persists, contact support.",
            )
        case "unavailable":
            return airtable_error(
                503, "SERVICE_UNAVAILABLE", message or "The server is temporarily unavailable."
            )
        case "unauthorized":
            return airtable_error(
                401, "AUTHENTICATION_REQUIRED", message or "Authentication required"
            )
        case "not_found":
            return airtable_error(
                404, "NOT_FOUND", message or "Could not find what you are looking for"
            )
        case "invalid":
            return airtable_error(
                422, "INVALID_REQUEST_UNKNOWN", message or "Invalid request: parameter validation"
            )


def _notion_generic(kind: GenericKind, message: str | None) -> VendorError:
    match kind:
        case "rate_limited":
            return notion_error(
                429,
                "rate_limited",
                message or "You have been rate limited. Please try again in a few minutes.",
            )
        case "server_error":
            return notion_error(
                500, "internal_server_error", message or "Unexpected error occurred."
            )
        case "unavailable":
            return notion_error(
                504,
                "gateway_timeout",
                message or "Notion timed out while processing the request.",
            )
        case "unauthorized":
            return notion_error(401, "unauthorized", message or "API token is invalid.")
        case "not_found":
            return notion_error(
                404, "object_not_found", message or "Could not find the requested object."
            )
        case "invalid":
            return notion_error(400, "validation_error", message or "body failed validation.")


def _google_generic(kind: GenericKind, message: str | None) -> VendorError:
    match kind:
        case "rate_limited":
            return google_error(
                429, "rateLimitExceeded", message or "Rate Limit Exceeded", domain="usageLimits"
            )
        case "server_error":
            return google_error(500, "backendError", message or "Backend Error")
        case "unavailable":
            return google_error(
                503, "backendError", message or "The service is currently unavailable."
            )
        case "unauthorized":
            return google_error(
                401,
                "required",
                message or "Login Required.",
                location="Authorization",
                location_type="header",
            )
        case "not_found":
            return google_error(404, "notFound", message or "Not Found")
        case "invalid":
            return google_error(400, "invalid", message or "Invalid Value")


def _openai_generic(kind: GenericKind, message: str | None) -> VendorError:
    match kind:
        case "rate_limited":
            return openai_error(
                429,
                "requests",
                message or "Rate limit reached for requests. Please try again later.",
                "rate_limit_exceeded",
            )
        case "server_error":
            return openai_error(
                500,
                "server_error",
                message
                or "The server had an error while processing your request. Sorry about that!",
                None,
            )
        case "unavailable":
            return openai_error(
                503, "server_error", message or "The engine is currently overloaded.", None
            )
        case "unauthorized":
            return openai_error(
                401,
                "invalid_request_error",
                message or "You didn't provide an API key.",
                "invalid_api_key",
            )
        case "not_found":
            return openai_error(
                404, "invalid_request_error", message or "Unknown request URL.", "unknown_url"
            )
        case "invalid":
            return openai_error(400, "invalid_request_error", message or "Invalid request.", None)


_GENERIC = {
    "hubspot": _hubspot_generic,
    "airtable": _airtable_generic,
    "notion": _notion_generic,
    "google": _google_generic,
    "openai": _openai_generic,
}
