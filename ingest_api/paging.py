"""Cursor pages, as the API's lists and the console's pages cut them: the query asks for one
row more than the page holds, and that row, when found, says there is a next page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

Row = TypeVar("Row", bound=Mapping[str, Any])


def page_of(rows: Sequence[Row], limit: int, *, key: str = "id") -> tuple[list[Row], int | None]:
    """The page of `rows` (fetched with a limit of `limit + 1`) and the next page's cursor: the
    `key` of the page's last row when a row was left over, else None."""
    shown = list(rows[:limit])
    return shown, int(shown[-1][key]) if len(rows) > limit else None
