"""Times on the command line: an ISO 8601 time or a duration before now."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Moment(click.ParamType[datetime, Any]):
    """An ISO 8601 time (naive means UTC) or a duration before now: `90m`, `2h`, `3d`, `1w`."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        return parse_moment(str(value), now=datetime.now(UTC), fail=self._fail)

    def _fail(self, message: str) -> NoReturn:
        self.fail(message)


def parse_moment(text: str, *, now: datetime, fail: Callable[[str], NoReturn]) -> datetime:
    match = _DURATION.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"{text!r} is neither an ISO time nor a duration like 2h or 3d")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
