"""One dependency's health (`Check`) and the error text it may carry: never a secret."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

# "not configured": a dependency this deployment does not use (OpenAI without a key).
Status = Literal["ok", "down", "not configured"]

_MAX_ERROR_CHARS = 300
# user:password@ in a URL, and password=... in a libpq connection string or a query.
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|[^\s&]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Check:
    """A dependency's status, how long its check took, and the error of that check (None when
    it passed). `detail` holds what only authenticated callers see (modes, revisions, ages)."""

    status: Status
    latency_ms: float | None
    last_error: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)

    @property
    def down(self) -> bool:
        return self.status == "down"

    def summary(self) -> dict[str, object]:
        """What anyone may see: status and latency."""
        return {"status": self.status, "latency_ms": self.latency_ms}

    def full(self) -> dict[str, object]:
        return {**self.summary(), "last_error": self.last_error, **self.detail}


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading), rounded to 0.01."""
    return round((time.perf_counter() - started) * 1000, 2)


def safe_error(error: BaseException | str, secrets: Iterable[str] = ()) -> str:
    """An error as one short line with no credential in it: the exception's type and the first
    line of its message, URL user info and `password=` values masked, `secrets` replaced."""
    if isinstance(error, BaseException):
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    else:
        text = error
    text = _PASSWORD.sub(r"\1***", _USERINFO.sub("***@", text))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:_MAX_ERROR_CHARS]
