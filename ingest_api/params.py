"""Limits shared by the API's parameters."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from orchestrator_core.text import holds_nul

# Row ids and HubSpot object ids are Postgres bigints: a larger number is refused with 422
# naming the parameter, before it reaches a query as a 500.
MAX_ID = 2**63 - 1


def _no_nul(value: Any) -> Any:
    if holds_nul(value):
        raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
    return value


# On a body field (text or JSON): a NUL character is refused with 422 naming the field, not
# left to fail as a 500 in the database.
NoNul = AfterValidator(_no_nul)


_NUMBER = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*")


def _iso_only(value: Any) -> Any:
    """pydantic reads a number as seconds since 1970; a query's time must be written out."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be an ISO 8601 date-time, such as 2026-12-01T09:00:00Z")
    return value


# A time in a query: ISO 8601 only (`0.5` is not a time a person meant).
Instant = Annotated[datetime, BeforeValidator(_iso_only)]
