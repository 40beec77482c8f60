"""Typed connector errors: transient (retry later) versus permanent (retrying cannot help).

The workflow layer branches on these classes, never on a vendor client's own exceptions. A
message names the vendor, the operation, the HTTP status and the vendor's short reason; it
never carries a credential, a request header or a raw response body, and the vendor
exception is not chained (its text can echo headers), so neither `str`, `repr` nor a logged
traceback can leak a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Longest vendor reason kept in a message; vendor bodies can be large and echo input.
_MAX_REASON_CHARS = 300
_REDACTED = "[redacted]"
# Bearer tokens and the key shapes of the vendors used here (HubSpot private-app tokens,
# Airtable personal access tokens, Notion integration secrets, OpenAI keys, Google OAuth).
_TOKEN_PATTERNS = re.compile(
    r"(?i)(bearer\s+[A-Za-z0-9._~+/=-]+"
    r"|\bpat-[a-z0-9-]{8,}"
    r"|\bpat[A-Za-z0-9]{10,}\.[A-Za-z0-9]{16,}"
    r"|\b(?:secret|ntn)_[A-Za-z0-9]{16,}"
    r"|\bsk-[A-Za-z0-9_-]{16,}"
    r"|\bya29\.[A-Za-z0-9._-]+)"
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret value and every token-shaped string replaced."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _REDACTED)
    return _TOKEN_PATTERNS.sub(_REDACTED, text)


class ConnectorError(Exception):
    """A vendor call failed; see the subclasses for what the caller should do about it."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        operation: str,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.vendor = vendor
        self.operation = operation
        self.status = status
        # The vendor's machine-readable error code (`RATE_LIMIT`, `object_not_found`, ...).
        self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, vendor={self.vendor!r}, "
            f"operation={self.operation!r}, status={self.status!r})"
        )


class TransientConnectorError(ConnectorError):
    """Worth retrying later: rate limit, vendor outage, timeout, connection failure.

    `retry_after` is the wait in seconds the vendor asked for (or the connector inferred),
    when known. `may_have_applied` is true when the request may have reached the vendor and
    taken effect (read timeout, 5xx on a write): retrying a non-idempotent write could then
    duplicate it, so the caller should check before writing again.
    """

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        operation: str,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        may_have_applied: bool = False,
    ) -> None:
        super().__init__(message, vendor=vendor, operation=operation, status=status, code=code)
        self.retry_after = retry_after
        self.may_have_applied = may_have_applied

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, retry_after={self.retry_after!r})"


class RateLimitedError(TransientConnectorError):
    """The vendor (HTTP 429, or its equivalent) or our own throttle refused the request."""


class PermanentConnectorError(ConnectorError):
    """Retrying the same request cannot succeed; a person or a code change must act."""


class NotFoundError(PermanentConnectorError):
    """The object addressed does not exist (HTTP 404 or 410)."""


class AuthError(PermanentConnectorError):
    """The credential is missing, invalid, expired or lacks a scope (HTTP 401 or 403)."""


class BadDataError(PermanentConnectorError):
    """The vendor rejected what we sent (HTTP 400, 409, 422) or we refused to send it."""


class ConfigurationError(PermanentConnectorError):
    """The connector is not configured well enough to make the call."""


def vendor_reason(payload: object, fallback: str = "") -> tuple[str, str | None]:
    """The (message, code) of a vendor's JSON error body, tolerant of every vendor's shape.

    HubSpot: `{"message", "category"}`; Airtable: `{"error": {"type", "message"}}`,
    `{"error": "NOT_FOUND"}` or `{"errors": [{"error", "message"}]}`; Notion:
    `{"code", "message"}`; Google: `{"error": {"message", "errors": [{"reason"}]}}`.
    """
    message, code = fallback, None
    if isinstance(payload, Mapping):
        error = payload.get("error")
        if isinstance(error, Mapping):
            message = str(error.get("message") or message)
            code = _first_str(error.get("type"), error.get("status"))
            errors = error.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
                code = _first_str(errors[0].get("reason"), code)
        elif isinstance(error, str):
            code = error
            message = str(payload.get("message") or error)
        elif isinstance(payload.get("errors"), list) and payload["errors"]:
            # Airtable's rate-limit shape: {"errors": [{"error": "RATE_LIMIT_REACHED", ...}]}.
            first = payload["errors"][0]
            if isinstance(first, Mapping):
                message = str(first.get("message") or message)
                code = _first_str(first.get("error"), first.get("reason"))
        else:
            message = str(payload.get("message") or message)
            code = _first_str(payload.get("code"), payload.get("category"))
    return message, code


def _first_str(*values: object) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value
    return None


def error_for_status(
    *,
    vendor: str,
    operation: str,
    status: int,
    reason: str = "",
    code: str | None = None,
    retry_after: float | None = None,
    secrets: Iterable[str] = (),
    is_write: bool = False,
) -> ConnectorError:
    """The connector error for an HTTP status, with a short, redacted message."""
    reason = redact(" ".join(reason.split()), secrets)[:_MAX_REASON_CHARS]
    message = f"{vendor} {operation} failed: HTTP {status}" + (f": {reason}" if reason else "")
    safe_code = redact(code, secrets)[:80] if code else None
    if status == 429:
        return RateLimitedError(
            message,
            vendor=vendor,
            operation=operation,
            status=status,
            code=safe_code,
            retry_after=retry_after,
        )
    if status == 408 or status >= 500:
        # A 503 is refused before any work; other 5xx on a write may have taken effect.
        return TransientConnectorError(
            message,
            vendor=vendor,
            operation=operation,
            status=status,
            code=safe_code,
            retry_after=retry_after,
            may_have_applied=is_write and status != 503,
        )
    error_type: type[PermanentConnectorError]
    if status in (401, 403):
        error_type = AuthError
    elif status in (404, 410):
        error_type = NotFoundError
    else:
        error_type = BadDataError
    return error_type(message, vendor=vendor, operation=operation, status=status, code=safe_code)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    from time import time

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None
