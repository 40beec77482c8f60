"""CRM search semantics: filter groups (OR of ANDs), one sort, free-text query, offset paging.

Values compare as numbers when both sides are numbers; ISO timestamps count as their epoch
milliseconds (HubSpot takes date filters in epoch ms); anything else compares as lower-cased text.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.clock import epoch_ms, parse_iso
from sandbox.errors import hubspot_error
from sandbox.state import Record

JsonObject = dict[str, Any]

MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_LIMIT = 200

_OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
_TOKEN = re.compile(r"[\w@.+-]+")

Comparable = tuple[int, float | str]
Matcher = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class SearchRequest:
    matches: Matcher
    sort_property: str
    descending: bool
    query: str | None
    properties: list[str] | None
    limit: int
    after: int


def parse_search(body: JsonObject) -> SearchRequest:
    """Validate a search body as HubSpot does; 400 VALIDATION_ERROR otherwise."""
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise _invalid("filterGroups must be an array")
    if len(groups) > MAX_FILTER_GROUPS:
        raise _invalid(f"Too many filter groups ({len(groups)}); the maximum is 5")
    matchers: list[list[Matcher]] = []
    total = 0
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise _invalid("each filter group needs a filters array")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise _invalid(f"Too many filters in a group ({len(filters)}); the maximum is 10")
        total += len(filters)
        matchers.append([_filter(f) for f in filters])
    if total > MAX_FILTERS:
        raise _invalid(f"Too many filters ({total}); the maximum is 25")

    sorts = body.get("sorts") or []
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise _invalid("Only one sorting rule can be applied to any search")
    sort_property, descending = "hs_object_id", False
    if sorts:
        sort_property, descending = _sort(sorts[0])

    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise _invalid("limit must be a positive integer")
    if limit > MAX_LIMIT:
        raise _invalid(f"limit must be at most {MAX_LIMIT} (got {limit})")
    after_raw = body.get("after") or "0"
    try:
        after = int(str(after_raw))
    except ValueError:
        raise _invalid(f"Invalid after value: {after_raw}") from None
    properties = body.get("properties")
    if properties is not None and not (
        isinstance(properties, list) and all(isinstance(p, str) for p in properties)
    ):
        raise _invalid("properties must be an array of strings")
    query = body.get("query")

    def matches(props: Mapping[str, Any]) -> bool:
        return not matchers or any(all(m(props) for m in group) for group in matchers)

    return SearchRequest(
        matches=matches,
        sort_property=sort_property,
        descending=descending,
        query=query if isinstance(query, str) and query.strip() else None,
        properties=list(properties) if properties else None,
        limit=limit,
        after=after,
    )


def matches_query(props: Mapping[str, Any], query: str, searchable: Sequence[str]) -> bool:
    """Free text: every word of `query` starts a word of one of the searchable properties."""
    words = [w.lower() for w in _TOKEN.findall(query)]
    haystack = [
        token.lower() for name in searchable for token in _TOKEN.findall(str(props.get(name) or ""))
    ]
    return all(any(token.startswith(word) for token in haystack) for word in words)


def sort_records(records: list[Record], name: str, *, descending: bool) -> list[Record]:
    """Records ordered by property `name`; records without it come last either way."""
    present: list[tuple[Comparable, Record]] = []
    absent: list[Record] = []
    for record in records:
        key = _comparable({**record.data["properties"], "hs_object_id": record.id}.get(name))
        if key is None:
            absent.append(record)
        else:
            present.append((key, record))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [record for _, record in present] + absent


def _filter(spec: Any) -> Matcher:
    if not isinstance(spec, dict):
        raise _invalid("each filter must be an object")
    name = spec.get("propertyName")
    operator = spec.get("operator", "EQ")
    if not isinstance(name, str) or not name:
        raise _invalid("filter propertyName is required")
    if operator not in _OPERATORS:
        raise _invalid(f"Unknown filter operator: {operator}")
    value = spec.get("value")
    high = spec.get("highValue")
    values = spec.get("values") or []

    def matcher(props: Mapping[str, Any]) -> bool:
        return _apply(operator, props.get(name), value, high, values)

    return matcher


def _apply(operator: str, actual: Any, value: Any, high: Any, values: list[Any]) -> bool:
    present = actual is not None and str(actual) != ""
    match operator:
        case "HAS_PROPERTY":
            return present
        case "NOT_HAS_PROPERTY":
            return not present
        case "IN":
            return present and any(_equal(actual, v) for v in values)
        case "NOT_IN":
            return not any(_equal(actual, v) for v in values)
        case "EQ":
            return present and _equal(actual, value)
        case "NEQ":
            return not _equal(actual, value)
        case "CONTAINS_TOKEN" | "NOT_CONTAINS_TOKEN":
            pattern = str(value or "").lower()
            tokens = [t.lower() for t in _TOKEN.findall(str(actual or ""))]
            found = any(fnmatch.fnmatchcase(t, pattern) for t in tokens)
            return found if operator == "CONTAINS_TOKEN" else not found
        case "BETWEEN":
            return _ordered(actual, value, "GTE") and _ordered(actual, high, "LTE")
        case _:
            return _ordered(actual, value, operator)


def _equal(actual: Any, expected: Any) -> bool:
    left = _comparable(actual)
    return left is not None and left == _comparable(expected)


def _ordered(actual: Any, bound: Any, operator: str) -> bool:
    left, right = _comparable(actual), _comparable(bound)
    if left is None or right is None or left[0] != right[0]:
        return False
    match operator:
        case "LT":
            return left < right
        case "LTE":
            return left <= right
        case "GT":
            return left > right
        case _:
            return left >= right


def _comparable(value: Any) -> Comparable | None:
    """(0, number) for numbers and timestamps (epoch ms), (1, lower-cased text) otherwise."""
    if value is None or str(value) == "":
        return None
    text = str(value).strip()
    number = _number(text)
    if number is not None:
        return (0, number)
    moment = parse_iso(text) if "-" in text else None
    if moment is not None:
        return (0, float(epoch_ms(moment)))
    return (1, text.lower())


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _sort(spec: Any) -> tuple[str, bool]:
    if isinstance(spec, str) and spec:
        return spec.removeprefix("-"), spec.startswith("-")
    if isinstance(spec, dict) and isinstance(spec.get("propertyName"), str):
        direction = str(spec.get("direction", "ASCENDING")).upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise _invalid(f"Unknown sort direction: {direction}")
        return spec["propertyName"], direction == "DESCENDING"
    raise _invalid("a sort is a property name or {propertyName, direction}")


def _invalid(message: str) -> Exception:
    return hubspot_error(400, "VALIDATION_ERROR", message)
