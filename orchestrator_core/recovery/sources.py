"""Where recovery learns what HubSpot changed: the `ChangeSource` protocol and its CRM-search
implementation.

A source yields, per object type, the objects modified in `[since, until)` as consecutive
windows in time order, each one complete: the pass stores a window's envelopes and advances the
watermark over it in one transaction, so a window must never be yielded half-listed.

HubSpot's webhooks journal (where the app type offers it) would be a better source: it lists
the changes themselves, property by property, instead of the objects' current state. It fits
the same protocol (docs/recovery.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orchestrator_core.recovery.rules import (
    Observed,
    SearchType,
    Window,
    epoch_ms,
    from_ms,
    parse_hubspot_time,
)

# HubSpot's CRM search: no page may start at or past this offset, 200 results per page.
RESULT_CAP = 10_000
PAGE_SIZE = 200
# Properties HubSpot keeps the dates in, per object type.
MODIFIED_PROPERTY: dict[SearchType, str] = {
    "companies": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
# A window whose total changes while it is paged is listed again (records left it, shifting
# the offsets); after this many tries the pass stops and the window stays unchecked.
_LIST_ATTEMPTS = 3


class RecoveryError(Exception):
    """A window could not be listed completely; the watermark stays before it."""


@dataclass(frozen=True)
class WindowChanges:
    """Every object a source saw modified in `window`, and the requests it took."""

    window: Window
    objects: tuple[Observed, ...]
    queries: int


class ChangeSource(Protocol):
    # Named in each recovered envelope's `recovered_from.source`.
    name: str

    def changes(
        self, object_type: SearchType, since: datetime, until: datetime, properties: Sequence[str]
    ) -> Iterator[WindowChanges]:
        """The objects modified in `[since, until)` with `properties`, window by window in
        time order, each window complete."""
        ...


class SearchRecord(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def properties(self) -> dict[str, str | None]: ...


class SearchResults(Protocol):
    @property
    def total(self) -> int: ...
    @property
    def results(self) -> Sequence[SearchRecord]: ...
    @property
    def after(self) -> str | None: ...


class CrmSearch(Protocol):
    """What the source asks of the HubSpot connector (`HubSpotConnector`)."""

    def search_modified_between(
        self,
        *,
        object_type: SearchType,
        since: datetime,
        until: datetime,
        properties: Sequence[str] = (),
        limit: int = PAGE_SIZE,
        after: str | None = None,
        id_above: str | None = None,
    ) -> SearchResults: ...


class CrmSearchSource:
    """Objects by their last-modified date through the CRM search API.

    A window whose total passes the paging cap is split in halves until each part fits; a
    window of a single millisecond still too dense is listed by id (keyset paging) instead.
    Every request goes through the connector's throttles (4 searches/s, shared with every
    process through the vendor budgets).
    """

    name = "crm_search"

    def __init__(
        self, search: CrmSearch, *, result_cap: int = RESULT_CAP, page_size: int = PAGE_SIZE
    ) -> None:
        self._search = search
        self.result_cap = result_cap
        self.page_size = page_size

    def changes(
        self, object_type: SearchType, since: datetime, until: datetime, properties: Sequence[str]
    ) -> Iterator[WindowChanges]:
        window = Window(epoch_ms(since), epoch_ms(until))
        if window.start_ms < window.end_ms:
            yield from self._windows(object_type, window, tuple(properties))

    def _windows(
        self, object_type: SearchType, window: Window, properties: tuple[str, ...]
    ) -> Iterator[WindowChanges]:
        first = self._page(object_type, window, properties, after=None)
        if first.total > self.result_cap and window.end_ms - window.start_ms > 1:
            middle = window.start_ms + (window.end_ms - window.start_ms) // 2
            yield from self._windows(object_type, Window(window.start_ms, middle), properties)
            yield from self._windows(object_type, Window(middle, window.end_ms), properties)
            return
        if first.total > self.result_cap:
            yield self._by_id(object_type, window, properties)
            return
        yield self._listed(object_type, window, properties, first)

    def _listed(
        self,
        object_type: SearchType,
        window: Window,
        properties: tuple[str, ...],
        first: SearchResults,
    ) -> WindowChanges:
        """Every page of a window that fits under the cap, sorted on the modified date."""
        seen: dict[str, Observed] = {}
        queries = 0
        for attempt in range(_LIST_ATTEMPTS):
            page = first if attempt == 0 else self._page(object_type, window, properties, None)
            queries += 1
            expected, stable = page.total, True
            while True:
                for record in page.results:
                    seen[record.id] = _observed(object_type, record)
                if page.total != expected:
                    stable = False
                if page.after is None or not page.results:
                    break
                page = self._page(object_type, window, properties, after=page.after)
                queries += 1
            if stable:
                return WindowChanges(window, _in_order(seen), queries)
        raise RecoveryError(
            f"{object_type} modified {from_ms(window.start_ms):%Y-%m-%d %H:%M:%S.%f}"
            f" - {from_ms(window.end_ms):%H:%M:%S.%f} kept changing while listed"
        )

    def _by_id(
        self, object_type: SearchType, window: Window, properties: tuple[str, ...]
    ) -> WindowChanges:
        """A window too dense to split: sorted on the id, each page filtered past the last id,
        so no page starts past the cap (and a record leaving the window shifts nothing)."""
        seen: dict[str, Observed] = {}
        queries, last_id = 0, None
        while True:
            page = self._search.search_modified_between(
                object_type=object_type,
                since=from_ms(window.start_ms),
                until=from_ms(window.end_ms),
                properties=properties,
                limit=self.page_size,
                id_above=last_id,
            )
            queries += 1
            for record in page.results:
                seen[record.id] = _observed(object_type, record)
            if not page.results or page.total <= len(page.results):
                return WindowChanges(window, _in_order(seen), queries)
            last_id = page.results[-1].id

    def _page(
        self,
        object_type: SearchType,
        window: Window,
        properties: tuple[str, ...],
        after: str | None,
    ) -> SearchResults:
        return self._search.search_modified_between(
            object_type=object_type,
            since=from_ms(window.start_ms),
            until=from_ms(window.end_ms),
            properties=properties,
            limit=self.page_size,
            after=after,
        )


def _observed(object_type: SearchType, record: SearchRecord) -> Observed:
    props = record.properties
    modified = parse_hubspot_time(props.get(MODIFIED_PROPERTY[object_type]))
    if modified is None:
        raise RecoveryError(f"{object_type} {record.id} came back without its modified date")
    return Observed(
        object_id=int(record.id),
        created_ms=parse_hubspot_time(props.get("createdate")),
        modified_ms=modified,
        properties=props,
    )


def _in_order(seen: dict[str, Observed]) -> tuple[Observed, ...]:
    return tuple(sorted(seen.values(), key=lambda o: (o.modified_ms, o.object_id)))
