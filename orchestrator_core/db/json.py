"""Python values bound as `jsonb` parameters."""

from __future__ import annotations

from typing import Any

import orjson
from psycopg.types.json import Jsonb


def _dumps(value: Any) -> str:
    # orjson writes datetimes, UUIDs and dataclasses itself; anything else (a Decimal) as text.
    return orjson.dumps(value, default=str).decode()


def jsonb(value: Any) -> Jsonb:
    """`value` as a jsonb parameter."""
    return Jsonb(value, dumps=_dumps)
