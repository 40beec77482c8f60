"""Column lists derived from the dataclasses rows are read into (with psycopg's `class_row`),
so a row type and the SELECT that fills it cannot drift apart."""

from __future__ import annotations

import dataclasses
from typing import Any


def columns_of(row_type: type[Any], *, alias: str | None = None) -> str:
    """`a, b, c` (or `x.a, x.b, x.c` with an alias): the fields of a dataclass, in order."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + field.name for field in dataclasses.fields(row_type))
