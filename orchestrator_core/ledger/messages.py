"""Short, secret-free error text for the ledger's `error` column."""

from __future__ import annotations

import re

MAX_ERROR_LENGTH = 300

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Credentials in headers and key=value / "key": "value" pairs.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (
        re.compile(
            r"(?i)\b(authorization|api[_-]?key|access[_-]?token|refresh[_-]?token|"
            r"client[_-]?secret|password|secret|token|key)(\"?'?\s*[:=]\s*\"?'?)[^\s\"',&}]+"
        ),
        r"\1\2***",
    ),
    # Vendor token shapes: OpenAI, HubSpot private apps, Airtable PATs, Notion, Google OAuth.
    (
        re.compile(
            r"\b(?:sk-[A-Za-z0-9_-]{16,}|pat-[a-z0-9]+-[0-9a-f-]{36}"
            r"|pat[A-Za-z0-9]{14}\.[0-9a-f]{64}|(?:secret|ntn)_[A-Za-z0-9]{20,}"
            r"|ya29\.[A-Za-z0-9_.-]+)"
        ),
        "***",
    ),
    # Query strings (API keys and signatures travel there).
    (re.compile(r"(https?://[^\s?#]+)\?\S*"), r"\1?***"),
)


def describe_error(exc: BaseException) -> str:
    """`Type: first line of the message`, credentials masked, at most MAX_ERROR_LENGTH chars.

    Vendor exceptions can carry whole responses (hubspot's ApiException prints headers and
    body), so only the first line is kept.
    """
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    if len(text) > MAX_ERROR_LENGTH:
        text = text[: MAX_ERROR_LENGTH - 1] + "…"
    return text
