"""What the console's GET forms send, as query parameters: an empty field is no filter, and a
`datetime-local` field's time has no zone (the forms say their times are UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator

from ingest_api.params import MAX_ID, NoNul


def _blank_is_none(value: Any) -> Any:
    """A GET form sends its empty fields (an "any" choice) as `name=`: no filter, not a bad
    value."""
    return None if value == "" else value


def _trimmed(value: Any) -> Any:
    """A typed-in text without the spaces around it; only spaces is no filter either."""
    return (value.strip() or None) if isinstance(value, str) else value


Blank = BeforeValidator(_blank_is_none)
Trimmed = BeforeValidator(_trimmed)
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID), Blank]
ObjectType = Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$"), Blank, NoNul]
Moment = Annotated[datetime | None, Query(), Blank]


def as_utc(moment: datetime | None) -> datetime | None:
    """A `datetime-local` field has no zone: the console's forms say their times are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def input_value(moment: datetime | None) -> str:
    """A time as a `datetime-local` field shows it (UTC, to the minute)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
