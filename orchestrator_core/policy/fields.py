"""Field types of the policy file and the helpers its models use to report problems.

Regex checks say in words what was expected; container checks replace `min_length`, which
pydantic reports a second time when an item of the container is invalid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence, Sized
from datetime import date
from decimal import Decimal
from typing import Annotated, TypeAlias, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from orchestrator_core.events.hubspot import ACTIONS, OBJECT_PREFIXES

Loc: TypeAlias = tuple[str | int, ...]
_SizedT = TypeVar("_SizedT", bound=Sized)


def cross_field_error(issues: Sequence[tuple[Loc, str]]) -> PydanticCustomError:
    """One validation error carrying several (relative key path, message) issues."""
    summary = "; ".join(f"{'.'.join(map(str, loc)) or '<root>'}: {msg}" for loc, msg in issues)
    return PydanticCustomError(
        "policy_cross_field", "{summary}", {"summary": summary, "issues": tuple(issues)}
    )


def raise_issues(issues: Sequence[tuple[Loc, str]]) -> None:
    if issues:
        raise cross_field_error(issues)


def duplicates(values: Iterable[object]) -> list[object]:
    seen: set[object] = set()
    repeated: list[object] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def _check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return name


def _check_version(value: str) -> str:
    try:
        date.fromisoformat(value.split(".", 1)[0])
    except ValueError:
        raise ValueError(f"{value!r} does not start with a valid date") from None
    return value


def _check_subscription_type(value: str) -> str:
    prefix, _, action = value.partition(".")
    if prefix == "object":
        raise ValueError(
            "name the concrete type (e.g. company.creation); generic object.* events are"
            " mapped to one through routing.generic_object_types"
        )
    if prefix not in OBJECT_PREFIXES or action not in ACTIONS:
        raise ValueError(
            f"{value!r} is not a HubSpot subscription type (<object>.<action>, object one of"
            f" {', '.join(sorted(OBJECT_PREFIXES))}; action one of {', '.join(sorted(ACTIONS))})"
        )
    return value


def _check_object_prefix(value: str) -> str:
    if value not in OBJECT_PREFIXES:
        raise ValueError(f"{value!r} is not one of {', '.join(sorted(OBJECT_PREFIXES))}")
    return value


def _pattern(regex: str, description: str) -> AfterValidator:
    """A regex check whose error says what was expected in words, not in regex."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {description}")
        return value

    return AfterValidator(check)


def _non_empty(value: _SizedT) -> _SizedT:
    # Instead of min_length, which adds a second error when an item of the list is invalid.
    if not value:
        raise ValueError("must not be empty")
    return value


NonEmpty = AfterValidator(_non_empty)

# Simple identifiers used across the file.
Slug = Annotated[
    str, _pattern(r"[a-z][a-z0-9_]{0,63}", "a lower-case identifier (letters, digits, _)")
]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
PolicyVersion = Annotated[
    str,
    _pattern(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\.[0-9]+", "a version like 2026-11-25.1 (date.sequence)"),
    AfterValidator(_check_version),
]
# HubSpot internal names: properties, pipeline stage ids, property option values.
PropertyName = Annotated[str, _pattern(r"[a-z][a-z0-9_]{0,99}", "a HubSpot internal property name")]
OptionValue = Annotated[
    str, _pattern(r"[A-Za-z0-9_-]{1,100}", "a HubSpot internal value (letters, digits, _ -)")
]
SubscriptionType = Annotated[str, AfterValidator(_check_subscription_type)]
ObjectTypeId = Annotated[str, _pattern(r"[0-9]+-[0-9]+", "a HubSpot objectTypeId like 0-2")]
ObjectPrefix = Annotated[str, AfterValidator(_check_object_prefix)]
TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
CostCentreCode = Annotated[
    str, _pattern(r"[A-Z0-9][A-Z0-9-]{1,31}", "a cost centre code (upper case, digits, -)")
]
Money = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
Hours = Annotated[int, Field(gt=0, le=24 * 90)]
NotionPageId = Annotated[
    str,
    _pattern(
        r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}",
        "a Notion page id (32 hex digits, dashes optional)",
    ),
]
DriveFileId = Annotated[str, _pattern(r"[A-Za-z0-9_-]{10,200}", "a Google Drive file id")]
