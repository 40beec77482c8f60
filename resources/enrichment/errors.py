"""Why enrichment produced no answer. Callers decide: retry, fall back to rules, or stop."""

from __future__ import annotations


class EnrichmentError(Exception):
    """Base class; `retryable` says whether the same request may succeed later."""

    retryable = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class EnrichmentConfigError(EnrichmentError):
    """The requested enricher cannot be built from the settings (e.g. no OPENAI_API_KEY)."""


class EnrichmentAuthError(EnrichmentError):
    """The model provider refused the credentials (HTTP 401 or 403)."""


class EnrichmentUnavailableError(EnrichmentError):
    """The provider could not be reached, timed out, throttled (429) or failed (5xx)."""

    retryable = True


class EnrichmentResponseError(EnrichmentError):
    """The provider rejected the request, or its answer was refused, cut short or invalid."""
