"""Optional filters as one SQL condition."""

from __future__ import annotations

from typing import Any


def where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """The AND of each fragment (a fixed SQL text with one `%s`) whose value is not None, and
    the values to bind in the same order; `TRUE` when no filter applies."""
    applied = [(fragment, value) for fragment, value in conditions if value is not None]
    clause = " AND ".join(fragment for fragment, _ in applied) or "TRUE"
    return clause, [value for _, value in applied]
