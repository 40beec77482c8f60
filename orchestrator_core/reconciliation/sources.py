"""What a pass reads the vendors through, as protocols: the core imports no connector, and the
connectors (`resources/hubspot.py`, `airtable.py`, `google_workspace.py`) fit these shapes as
they are. The composition roots (the Dagster job, the CLI, the tests) hand them in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol


class CrmRecordLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def properties(self) -> Mapping[str, str | None]: ...
    @property
    def updated_at(self) -> datetime | None: ...


class HubSpotReads(Protocol):
    def search_modified_since(
        self,
        *,
        object_type: Literal["companies", "contacts", "deals"],
        since: datetime,
        properties: Sequence[str] = (),
        page_size: int = ...,
        max_results: int | None = None,
    ) -> Iterable[CrmRecordLike]: ...

    def batch_read(
        self,
        *,
        object_type: Literal["companies", "contacts", "deals"],
        object_ids: Sequence[str],
        properties: Sequence[str] = (),
    ) -> Sequence[CrmRecordLike]: ...


class RowLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, Any]: ...


class AirtableReads(Protocol):
    def list_records(
        self, *, table: str, fields: Sequence[str] | None = None, page_size: int = ...
    ) -> Iterable[RowLike]: ...


class EventLike(Protocol):
    @property
    def status(self) -> str | None: ...


class CalendarReads(Protocol):
    def find_events(
        self, *, calendar_id: str, event_ids: Sequence[str]
    ) -> Mapping[str, EventLike]: ...


@dataclass(frozen=True)
class Readers:
    hubspot: HubSpotReads
    airtable: AirtableReads
    calendar: CalendarReads


@dataclass(frozen=True)
class Tables:
    """Where the mirrors live: the workflows' table names and the Airtable field of type "Last
    modified time" (absent from a table: no hand edit can be told apart)."""

    accounts: str = "Accounts"
    contacts: str = "Contacts"
    last_modified_field: str = "Last modified"
