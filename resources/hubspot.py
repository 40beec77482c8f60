"""HubSpot CRM through `hubspot-api-client`: read, batch read, search since a watermark or in
a time window (recovery of missed webhooks), update, notes and tasks on a record, and owners
(the users records are assigned to).

Every request goes through two client-side budgets: the private-app limit (100 or 190
requests per rolling 10 s) and, for searches, the 4 requests/s search limit. Searches page by
keyset (sort on `hs_object_id`, filter `GT` the last id seen) rather than by the `after`
cursor, so they are never stopped by the 10,000-result paging cap.

One connector is shared by the threads of a process, and their `get_object` and
`update_properties` calls are combined (`resources/coalescing.py`): concurrent reads of one
object type become one `batch/read` (plus one v4 association batch read per associated type,
`batch/read` returning no associations), concurrent updates one `batch/update`, 100 inputs
each. A lone call is sent as before, as one request. An id a batch does not answer under its
own id (deleted, merged into another record, or refused on its own in a 207) is read or
written again on its own, so its caller gets exactly what a single call gives.

Notes are not idempotent in HubSpot. A note created with an `idempotency_key` carries the key in
a reference line at the end of its body, and `find_note` looks for it among the notes associated
with the record (the v4 association read and a batch read of the bodies, both read-after-write
consistent, unlike CRM search, whose index lags a newly created object by seconds).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, SecretStr

from resources.coalescing import Batch, Coalescer
from resources.connections import Connection
from resources.errors import (
    BadDataError,
    ConnectorError,
    NotFoundError,
    TransientConnectorError,
    error_for_status,
    parse_retry_after,
    vendor_reason,
)
from resources.resilience import (
    CallObserver,
    RateLimit,
    ResilientCaller,
    RetryPolicy,
    SharedBudget,
    Throttle,
    Timeouts,
    chunked,
    request_not_sent,
)

if TYPE_CHECKING:
    from hubspot.crm.associations.v4 import BatchApi as AssociationsBatchApi
    from hubspot.crm.objects import BasicApi, BatchApi, SearchApi
    from hubspot.crm.owners import OwnersApi

VENDOR = "hubspot"

CrmObjectType = Literal["companies", "contacts", "deals"]
EngagementType = Literal["notes", "tasks"]
TaskPriority = Literal["LOW", "MEDIUM", "HIGH"]
TaskStatus = Literal["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"]

# The property each object type's "last modified" lives in.
MODIFIED_PROPERTY: dict[str, str] = {
    "companies": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
# HubSpot-defined association type ids from an engagement to the record it is about.
_NOTE_ASSOCIATION = {"contacts": 202, "companies": 190, "deals": 214}
_TASK_ASSOCIATION = {"contacts": 204, "companies": 192, "deals": 216}

SEARCH_PAGE_MAX = 200
BATCH_READ_MAX = 100
BATCH_MAX = 100  # inputs of a batch read, update or association read
# The 207 error of the v4 association batch read for an object with none of the type.
_NO_ASSOCIATIONS = "crm.associations.NO_ASSOCIATIONS_FOUND"
# An idempotency key as a note carries it: hex digits only, so it survives any HTML handling
# of the body and no text can be mistaken for it.
_IDEMPOTENCY_KEY = re.compile(r"[0-9a-f]{16,128}")


def note_marker(idempotency_key: str) -> str:
    """The reference line a note created with `idempotency_key` ends with (plain HTML, so it
    shows in the note; the key is what `find_note` looks for)."""
    _check_key(idempotency_key)
    return f"<p><small>Orchestrator ref {idempotency_key}</small></p>"


class CrmObject(BaseModel):
    """A CRM record as read or written: its id, the properties asked for and associations."""

    model_config = ConfigDict(frozen=True)

    object_type: str
    id: str
    properties: dict[str, str | None]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    # Associated object type (e.g. "contacts") -> ids, when associations were requested.
    associations: dict[str, tuple[str, ...]] = {}


class SearchPage(BaseModel):
    """One page of a CRM search: HubSpot's total for the query, the records, the next cursor."""

    model_config = ConfigDict(frozen=True)

    total: int
    results: tuple[CrmObject, ...]
    after: str | None = None


class _GetLane(NamedTuple):
    object_type: CrmObjectType
    properties: tuple[str, ...]
    associations: tuple[str, ...]


class _Update(NamedTuple):
    object_id: str
    properties: dict[str, str]


class OwnerTeam(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    primary: bool = False


class Owner(BaseModel):
    """A HubSpot owner: the user a record's `hubspot_owner_id` (or a collaborator id) names."""

    model_config = ConfigDict(frozen=True)

    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    user_id: int | None = None
    archived: bool = False
    teams: tuple[OwnerTeam, ...] = ()

    @property
    def name(self) -> str:
        """The full name, else the email, else the id: something a person recognises."""
        full = " ".join(part for part in (self.first_name, self.last_name) if part)
        return full or self.email or self.id


class HubSpotConnector:
    """HubSpot CRM v3 objects API with throttles, timeouts, retries and typed errors."""

    def __init__(
        self,
        *,
        access_token: SecretStr | str,
        host: str,
        requests_per_10s: int,
        search_requests_per_second: int,
        timeouts: Timeouts,
        retry: RetryPolicy,
        mode: str = "live",
        shared_budget: SharedBudget | None = None,
        call_observer: CallObserver | None = None,
    ) -> None:
        token = access_token if isinstance(access_token, SecretStr) else SecretStr(access_token)
        if not token.get_secret_value():
            raise ValueError("HubSpot access token is empty")
        self._token = token
        self.host = host.rstrip("/")
        self.mode = mode
        self.timeouts = timeouts
        # One portal per deployment: its budget is named by the host the token is sent to.
        self.throttle = Throttle(
            "hubspot",
            [RateLimit(requests_per_10s, 10.0)],
            vendor=VENDOR,
            shared=shared_budget,
            shared_key=f"hubspot {self.host}",
        )
        self.search_throttle = Throttle(
            "hubspot-search",
            [RateLimit(search_requests_per_second, 1.0)],
            vendor=VENDOR,
            shared=shared_budget,
            shared_key=f"hubspot-search {self.host}",
        )
        self._caller = ResilientCaller(
            vendor=VENDOR, policy=retry, classify=self._classify, observer=call_observer
        )
        # A batch refused whole (400, 404) may be one input's fault: each caller's input is
        # then sent on its own, so only that caller fails.
        self._gets: Coalescer[_GetLane, str, CrmObject] = Coalescer(
            self._send_gets, max_items=BATCH_MAX, isolate=_maybe_one_input
        )
        self._updates: Coalescer[CrmObjectType, _Update, CrmObject] = Coalescer(
            self._send_updates,
            max_items=BATCH_MAX,
            identity=lambda update: update.object_id,  # one update per id in a batch
            isolate=_maybe_one_input,
        )

    @classmethod
    def from_connection(cls, connection: Connection, **options: Any) -> HubSpotConnector:
        if connection.credential is None:
            raise ValueError("HubSpot connection has no credential")
        return cls(
            access_token=connection.credential,
            host=connection.base_url,
            mode=connection.mode,
            **options,
        )

    def __repr__(self) -> str:
        return f"HubSpotConnector(host={self.host!r}, mode={self.mode!r})"

    # -- reads ---------------------------------------------------------------------------

    def get_object(
        self,
        *,
        object_type: CrmObjectType,
        object_id: str,
        properties: Sequence[str] = (),
        associations: Sequence[str] = (),
    ) -> CrmObject:
        """One record by id with the given properties and associated ids (associated object
        types by their plural names, e.g. `companies`). A merged-away id answers with the
        record it was merged into; a deleted one is a `NotFoundError`."""
        _check_id(object_id, "get")
        lane = _GetLane(object_type, tuple(properties), tuple(associations))
        return self._gets.submit_one(lane, object_id)

    def get_owner(self, owner_id: str, *, by_user_id: bool = False) -> Owner:
        """One active owner by id (`GET /crm/v3/owners/{id}`), or by the HubSpot user id that
        webhook events name in `sourceId` (`userId:<id>`); a deactivated or unknown id is a
        `NotFoundError`."""
        _check_id(owner_id, "get owner")
        owner = self._caller.call(
            "get owner",
            lambda: self._owners_api.get_by_id(
                int(owner_id),
                id_property="userId" if by_user_id else "id",
                archived=False,
                _request_timeout=self.timeouts.as_tuple(),
            ),
            throttles=(self.throttle,),
        )
        return _to_owner(owner)

    def batch_read(
        self,
        *,
        object_type: CrmObjectType | EngagementType,
        object_ids: Sequence[str],
        properties: Sequence[str] = (),
    ) -> list[CrmObject]:
        """Records by id, 100 per request; ids that do not exist are left out."""
        from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

        for object_id in object_ids:
            _check_id(object_id, "batch read")
        found: list[CrmObject] = []
        for chunk in chunked(list(dict.fromkeys(object_ids)), BATCH_READ_MAX):
            request = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=object_id) for object_id in chunk],
                properties=list(properties),
                properties_with_history=[],
            )
            response = self._caller.call(
                f"batch read {object_type}",
                partial(
                    self._batch_api.read,
                    object_type,
                    request,
                    archived=False,
                    _request_timeout=self.timeouts.as_tuple(),
                ),
                throttles=(self.throttle,),
            )
            found.extend(_to_crm_object(object_type, item) for item in response.results or [])
        return found

    def search_modified_since(
        self,
        *,
        object_type: CrmObjectType,
        since: datetime,
        properties: Sequence[str] = (),
        page_size: int = SEARCH_PAGE_MAX,
        max_results: int | None = None,
    ) -> Iterator[CrmObject]:
        """Records modified at or after `since`, in ascending id order, lazily page by page.

        Each result carries `hs_object_id` and the type's last-modified property, so the
        caller can advance its watermark to the largest last-modified value it processed.
        """
        from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

        if since.tzinfo is None:
            raise ValueError("`since` must be timezone-aware")
        if not 1 <= page_size <= SEARCH_PAGE_MAX:
            raise ValueError(f"page_size must be between 1 and {SEARCH_PAGE_MAX}")
        modified = MODIFIED_PROPERTY[object_type]
        wanted = list(dict.fromkeys([*properties, "hs_object_id", modified]))
        since_ms = str(int(since.timestamp() * 1000))
        last_id: str | None = None
        yielded = 0
        while True:
            filters = [Filter(property_name=modified, operator="GTE", value=since_ms)]
            if last_id is not None:
                filters.append(Filter(property_name="hs_object_id", operator="GT", value=last_id))
            request = PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=filters)],
                sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                properties=wanted,
                limit=page_size,
            )
            page = self._search(object_type, request)
            results = page.results or []
            for item in results:
                yield _to_crm_object(object_type, item)
                yielded += 1
                if max_results is not None and yielded >= max_results:
                    return
            has_next = page.paging is not None and page.paging.next is not None
            total = page.total if isinstance(page.total, int) else None
            if not results or not (has_next or (total is not None and total > len(results))):
                return
            last_id = str(results[-1].id)

    def search_modified_between(
        self,
        *,
        object_type: CrmObjectType,
        since: datetime,
        until: datetime,
        properties: Sequence[str] = (),
        limit: int = SEARCH_PAGE_MAX,
        after: str | None = None,
        id_above: str | None = None,
    ) -> SearchPage:
        """One page of the records last modified in `[since, until)`: sorted on the
        last-modified property (ascending) and paged by `after`; or, with `id_above`, sorted on
        `hs_object_id` and filtered `GT` it (keyset paging, for a window too dense to split).

        One request; `total` is HubSpot's count for the whole query, so the caller can split a
        window whose total passes the 10,000-result paging cap before paging into it.
        """
        from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("`since` and `until` must be timezone-aware")
        if not 1 <= limit <= SEARCH_PAGE_MAX:
            raise ValueError(f"limit must be between 1 and {SEARCH_PAGE_MAX}")
        modified = MODIFIED_PROPERTY[object_type]
        filters = [
            Filter(property_name=modified, operator="GTE", value=str(_epoch_ms(since))),
            Filter(property_name=modified, operator="LT", value=str(_epoch_ms(until))),
        ]
        sort = modified
        if id_above is not None:
            _check_id(id_above, "search")
            filters.append(Filter(property_name="hs_object_id", operator="GT", value=id_above))
            sort = "hs_object_id"
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=filters)],
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=list(dict.fromkeys([*properties, "hs_object_id", "createdate", modified])),
            limit=limit,
            after=after,
        )
        page = self._search(object_type, request)
        following = page.paging.next.after if page.paging and page.paging.next else None
        return SearchPage(
            total=int(page.total or 0),
            results=tuple(_to_crm_object(object_type, item) for item in page.results or []),
            after=str(following) if following else None,
        )

    def _search(self, object_type: CrmObjectType, request: Any) -> Any:
        """One CRM search request, through the search limit (4/s) and the portal's budget."""
        return self._caller.call(
            f"search {object_type}",
            partial(
                self._search_api.do_search,
                object_type,
                request,
                _request_timeout=self.timeouts.as_tuple(),
            ),
            throttles=(self.search_throttle, self.throttle),
        )

    # -- writes --------------------------------------------------------------------------

    def update_properties(
        self,
        *,
        object_type: CrmObjectType,
        object_id: str,
        properties: Mapping[str, str | None],
    ) -> CrmObject:
        """Set properties on a record (idempotent: the same values can be written again)."""
        _check_id(object_id, "update")
        if not properties:
            raise ValueError("no properties to update")
        values = {key: "" if value is None else str(value) for key, value in properties.items()}
        return self._updates.submit_one(object_type, _Update(object_id, values))

    def create_note(
        self,
        *,
        object_type: CrmObjectType,
        object_id: str,
        body: str,
        timestamp: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> CrmObject:
        """A note on a record, associated with it. Not idempotent: creates one per call.

        With `idempotency_key` the body ends with `note_marker(key)`, so `find_note` can tell
        whether an earlier call with the key was accepted."""
        _check_id(object_id, "create note")
        if idempotency_key is not None:
            body = f"{body}\n{note_marker(idempotency_key)}"
        properties = {"hs_note_body": body, "hs_timestamp": _hubspot_time(timestamp)}
        return self._create_engagement(
            "notes", properties, object_type, object_id, _NOTE_ASSOCIATION[object_type]
        )

    def find_note(
        self, *, object_type: CrmObjectType, object_id: str, idempotency_key: str
    ) -> CrmObject | None:
        """The note `create_note(..., idempotency_key=key)` made on the record, or None.

        Reads the ids of the notes associated with the record (`POST
        /crm/v4/associations/{type}/notes/batch/read`, every page), then their bodies (`POST
        /crm/v3/objects/notes/batch/read`, 100 a request), and returns the oldest note whose
        `hs_note_body` contains the key. A note someone deleted, or whose reference line was
        edited away, is not found."""
        _check_id(object_id, "find note")
        _check_key(idempotency_key)
        note_ids = self._associated_ids(object_type, object_id, "notes", operation="find note")
        if not note_ids:
            return None
        notes = self.batch_read(
            object_type="notes", object_ids=note_ids, properties=["hs_note_body"]
        )
        marked = [
            note
            for note in notes
            if idempotency_key in html.unescape(note.properties.get("hs_note_body") or "")
        ]
        return min(marked, key=lambda note: int(note.id)) if marked else None

    def create_task(
        self,
        *,
        object_type: CrmObjectType,
        object_id: str,
        subject: str,
        due_at: datetime,
        body: str = "",
        priority: TaskPriority | None = None,
        status: TaskStatus = "NOT_STARTED",
        owner_id: str | None = None,
    ) -> CrmObject:
        """A to-do task on a record, associated with it. Not idempotent: one per call."""
        _check_id(object_id, "create task")
        properties = {
            "hs_task_subject": subject,
            "hs_task_body": body,
            "hs_timestamp": _hubspot_time(due_at),
            "hs_task_status": status,
            "hs_task_type": "TODO",  # HubSpot's type for a to-do (not CALL or EMAIL)
        }
        if priority:
            properties["hs_task_priority"] = priority
        if owner_id:
            properties["hubspot_owner_id"] = owner_id
        return self._create_engagement(
            "tasks", properties, object_type, object_id, _TASK_ASSOCIATION[object_type]
        )

    def close(self) -> None:
        names = ("_basic_api", "_batch_api", "_search_api", "_owners_api", "_associations_api")
        for name in names:
            api = self.__dict__.pop(name, None)
            if api is not None:
                api.api_client.rest_client.pool_manager.clear()
                api.api_client.close()

    # -- internals -----------------------------------------------------------------------

    def _send_gets(self, lane: _GetLane, batch: Batch[str]) -> list[CrmObject | BaseException]:
        """One id: `GET /crm/v3/objects/{type}/{id}` with its associations, as always. More:
        one `batch/read`, then one v4 association batch read per associated type."""
        from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

        def read() -> Any:
            ids = list(dict.fromkeys(batch.items))  # taken once the throttle grants a slot
            if len(ids) == 1:
                return self._get_by_id(lane, ids[0])
            request = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=object_id) for object_id in ids],
                properties=list(lane.properties),
                properties_with_history=[],
            )
            return self._batch_api.read(
                lane.object_type, request, archived=False, _request_timeout=self.timeouts.as_tuple()
            )

        answer = self._caller.call(f"get {lane.object_type}", read, throttles=(self.throttle,))
        ids = list(dict.fromkeys(batch.items))
        if len(ids) == 1:
            return [_to_crm_object(lane.object_type, answer)] * len(batch.items)
        found = {
            str(item.id): _to_crm_object(lane.object_type, item)
            for item in answer.results or []
            if str(item.id) in ids
        }
        unsure: set[str] = set()
        if lane.associations and found:
            found, unsure = self._with_associations(lane, found)
        outcomes: dict[str, CrmObject | BaseException] = {}
        for object_id in ids:
            if object_id in found and object_id not in unsure:
                outcomes[object_id] = found[object_id]
                continue
            # Not answered under its own id: deleted, merged into another record, or an error
            # of its own. The single read answers it exactly as it always has.
            try:
                record = self._caller.call(
                    f"get {lane.object_type}",
                    partial(self._get_by_id, lane, object_id),
                    throttles=(self.throttle,),
                )
                outcomes[object_id] = _to_crm_object(lane.object_type, record)
            except ConnectorError as error:
                outcomes[object_id] = error
        return [outcomes[object_id] for object_id in batch.items]

    def _get_by_id(self, lane: _GetLane, object_id: str) -> Any:
        return self._basic_api.get_by_id(
            lane.object_type,
            object_id,
            properties=list(lane.properties) or None,
            associations=list(lane.associations) or None,
            archived=False,
            _request_timeout=self.timeouts.as_tuple(),
        )

    def _associated_ids(
        self, from_type: CrmObjectType, from_id: str, to_type: str, *, operation: str
    ) -> list[str]:
        """The ids of the `to_type` objects associated with one record, from the v4 association
        batch read (one input, following its paging). An error other than "none of that type"
        raises: the caller must not take an unanswered read for "none"."""
        from hubspot.crm.associations.v4 import (
            BatchInputPublicFetchAssociationsBatchRequest,
            PublicFetchAssociationsBatchRequest,
        )

        ids: list[str] = []
        after: str | None = None
        while True:
            request = BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[PublicFetchAssociationsBatchRequest(id=from_id, after=after)]
            )
            page = self._caller.call(
                operation,
                partial(
                    self._associations_api.get_page,
                    from_type,
                    to_type,
                    request,
                    _request_timeout=self.timeouts.as_tuple(),
                ),
                throttles=(self.throttle,),
            )
            after = None
            for result in page.results or []:
                if str(result._from.id) != from_id:
                    continue
                ids.extend(str(target.to_object_id) for target in result.to or [])
                if result.paging and result.paging.next and result.paging.next.after:
                    after = str(result.paging.next.after)
            for error in getattr(page, "errors", None) or []:
                if getattr(error, "sub_category", None) == _NO_ASSOCIATIONS:
                    continue
                raise TransientConnectorError(
                    f"hubspot {operation}: the association read answered an error"
                    f" ({getattr(error, 'category', None) or 'unknown'})",
                    vendor=VENDOR,
                    operation=operation,
                )
            if after is None:
                return list(dict.fromkeys(ids))

    def _with_associations(
        self, lane: _GetLane, found: dict[str, CrmObject]
    ) -> tuple[dict[str, CrmObject], set[str]]:
        """`found` with the ids each record is associated with, per requested type, from the
        v4 association batch read (following each record's paging); and the ids whose
        associations came back with an error other than "none of that type"."""
        from hubspot.crm.associations.v4 import (
            BatchInputPublicFetchAssociationsBatchRequest,
            PublicFetchAssociationsBatchRequest,
        )

        linked: dict[str, dict[str, list[str]]] = {object_id: {} for object_id in found}
        unsure: set[str] = set()
        for to_type in lane.associations:
            pending: list[tuple[str, str | None]] = [(object_id, None) for object_id in found]
            while pending:
                request = BatchInputPublicFetchAssociationsBatchRequest(
                    inputs=[
                        PublicFetchAssociationsBatchRequest(id=object_id, after=after)
                        for object_id, after in pending
                    ]
                )
                page = self._caller.call(
                    f"get {lane.object_type}",
                    partial(
                        self._associations_api.get_page,
                        lane.object_type,
                        to_type,
                        request,
                        _request_timeout=self.timeouts.as_tuple(),
                    ),
                    throttles=(self.throttle,),
                )
                pending = []
                for result in page.results or []:
                    from_id = str(result._from.id)
                    if from_id not in linked:
                        continue
                    targets = linked[from_id].setdefault(to_type, [])
                    targets.extend(str(target.to_object_id) for target in result.to or [])
                    after = (
                        result.paging.next.after if result.paging and result.paging.next else None
                    )
                    if after:
                        pending.append((from_id, str(after)))
                for error in getattr(page, "errors", None) or []:
                    if getattr(error, "sub_category", None) == _NO_ASSOCIATIONS:
                        continue
                    named = {v for values in (error.context or {}).values() for v in values}
                    unsure |= (named & set(found)) or set(found)
        return {
            object_id: record.model_copy(
                update={
                    "associations": {
                        to_type: tuple(dict.fromkeys(ids))
                        for to_type, ids in linked[object_id].items()
                        if ids
                    }
                }
            )
            for object_id, record in found.items()
        }, unsure

    def _send_updates(
        self, object_type: CrmObjectType, batch: Batch[_Update]
    ) -> list[CrmObject | BaseException]:
        """One update: `PATCH /crm/v3/objects/{type}/{id}`, as always. More: `batch/update`."""
        from hubspot.crm.objects import (
            BatchInputSimplePublicObjectBatchInput,
            SimplePublicObjectBatchInput,
        )

        def write() -> Any:
            updates = batch.items  # taken once the throttle grants a slot
            if len(updates) == 1:
                return self._update_one(object_type, updates[0])
            request = BatchInputSimplePublicObjectBatchInput(
                inputs=[
                    SimplePublicObjectBatchInput(id=update.object_id, properties=update.properties)
                    for update in updates
                ]
            )
            return self._batch_api.update(
                object_type, request, _request_timeout=self.timeouts.as_tuple()
            )

        operation = f"update {object_type}"
        answer = self._caller.call(operation, write, throttles=(self.throttle,), write=True)
        if len(batch.items) == 1:
            return [_to_crm_object(object_type, answer)]
        found = {str(item.id): _to_crm_object(object_type, item) for item in answer.results or []}
        outcomes: list[CrmObject | BaseException] = []
        for update in batch.items:
            if update.object_id in found:
                outcomes.append(found[update.object_id])
                continue
            # Refused on its own in a 207 (or answered under another id): the single update
            # answers it exactly as it always has (idempotent, so sending it again is safe).
            try:
                record = self._caller.call(
                    operation,
                    partial(self._update_one, object_type, update),
                    throttles=(self.throttle,),
                    write=True,
                )
                outcomes.append(_to_crm_object(object_type, record))
            except ConnectorError as error:
                outcomes.append(error)
        return outcomes

    def _update_one(self, object_type: str, update: _Update) -> Any:
        from hubspot.crm.objects import SimplePublicObjectInput

        return self._basic_api.update(
            object_type,
            update.object_id,
            SimplePublicObjectInput(properties=update.properties),
            _request_timeout=self.timeouts.as_tuple(),
        )

    def _create_engagement(
        self,
        engagement_type: str,
        properties: dict[str, str],
        object_type: str,
        object_id: str,
        association_type_id: int,
    ) -> CrmObject:
        from hubspot.crm.objects import (
            AssociationSpec,
            PublicAssociationsForObject,
            PublicObjectId,
            SimplePublicObjectInputForCreate,
        )

        body = SimplePublicObjectInputForCreate(
            properties=properties,
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id=object_id),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED",
                            association_type_id=association_type_id,
                        )
                    ],
                )
            ],
        )
        record = self._caller.call(
            f"create {engagement_type[:-1]} on {object_type}",
            lambda: self._basic_api.create(
                engagement_type, body, _request_timeout=self.timeouts.as_tuple()
            ),
            throttles=(self.throttle,),
            write=True,
            idempotent=False,
        )
        return _to_crm_object(engagement_type, record)

    @cached_property
    def _client(self) -> Any:
        import hubspot
        from urllib3.util.retry import Retry

        # Retries are ours (typed, throttled, Retry-After aware): urllib3 only follows
        # redirects and never retries a request by itself.
        no_retry = Retry(total=None, connect=0, read=0, status=0, other=0, redirect=3)
        return hubspot.Client.create(
            access_token=self._token.get_secret_value(), host=self.host, retry=no_retry
        )

    @cached_property
    def _basic_api(self) -> BasicApi:
        return self._client.crm.objects.basic_api

    @cached_property
    def _batch_api(self) -> BatchApi:
        return self._client.crm.objects.batch_api

    @cached_property
    def _search_api(self) -> SearchApi:
        return self._client.crm.objects.search_api

    @cached_property
    def _owners_api(self) -> OwnersApi:
        return self._client.crm.owners.owners_api

    @cached_property
    def _associations_api(self) -> AssociationsBatchApi:
        return self._client.crm.associations.v4.batch_api

    def _classify(self, exc: BaseException, operation: str, write: bool) -> ConnectorError | None:
        from hubspot.crm.associations.v4 import exceptions as associations
        from hubspot.crm.objects.exceptions import ApiException, ApiTypeError, ApiValueError
        from hubspot.crm.owners import exceptions as owners
        from urllib3.exceptions import HTTPError, MaxRetryError

        secrets = (self._token.get_secret_value(),)
        # Each hubspot-api-client API package has its own exception classes.
        if isinstance(exc, ApiException | owners.ApiException | associations.ApiException):
            status = int(exc.status or 0)
            if status == 0:
                return TransientConnectorError(
                    f"hubspot {operation} failed: transport error",
                    vendor=VENDOR,
                    operation=operation,
                    may_have_applied=write,
                )
            payload = _json(exc.body)
            reason, code = vendor_reason(payload, fallback=str(exc.reason or ""))
            if isinstance(payload, Mapping) and payload.get("errorType"):
                code = str(payload.get("policyName") or payload.get("errorType"))
            headers = exc.headers or {}
            retry_after = parse_retry_after(headers.get("Retry-After"))
            if status == 429 and retry_after is None and code == "DAILY":
                retry_after = _seconds_to_utc_midnight()
            return error_for_status(
                vendor=VENDOR,
                operation=operation,
                status=status,
                reason=reason,
                code=code,
                retry_after=retry_after,
                secrets=secrets,
                is_write=write,
            )
        if isinstance(exc, HTTPError):
            reason_exc = exc.reason if isinstance(exc, MaxRetryError) else exc
            not_sent = request_not_sent(exc)
            return TransientConnectorError(
                f"hubspot {operation} failed: {type(reason_exc).__name__}"
                + (" (not sent)" if not_sent else ""),
                vendor=VENDOR,
                operation=operation,
                may_have_applied=write and not not_sent,
            )
        if isinstance(
            exc,
            ApiTypeError
            | ApiValueError
            | owners.ApiTypeError
            | owners.ApiValueError
            | associations.ApiTypeError
            | associations.ApiValueError,
        ):
            return BadDataError(
                f"hubspot {operation}: invalid request: {type(exc).__name__}",
                vendor=VENDOR,
                operation=operation,
            )
        return None


def _maybe_one_input(error: BaseException) -> bool:
    """Whether a batch refused whole may have been refused for one input's sake."""
    return isinstance(error, BadDataError | NotFoundError)


def _check_key(idempotency_key: str) -> None:
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise ValueError("an idempotency key is 16 to 128 lowercase hex digits")


def _check_id(object_id: str, operation: str) -> None:
    if not (isinstance(object_id, str) and object_id.isdigit()):
        raise BadDataError(
            f"hubspot {operation}: object id must be a string of digits",
            vendor=VENDOR,
            operation=operation,
        )


def _to_crm_object(object_type: str, record: Any) -> CrmObject:
    associations: dict[str, tuple[str, ...]] = {}
    for name, collection in (getattr(record, "associations", None) or {}).items():
        results = getattr(collection, "results", None) or []
        associations[name] = tuple(dict.fromkeys(str(item.id) for item in results))
    return CrmObject(
        object_type=object_type,
        id=str(record.id),
        properties=dict(record.properties or {}),
        created_at=_utc(record.created_at),
        updated_at=_utc(record.updated_at),
        archived=bool(record.archived),
        associations=associations,
    )


def _to_owner(owner: Any) -> Owner:
    return Owner(
        id=str(owner.id),
        email=owner.email,
        first_name=owner.first_name,
        last_name=owner.last_name,
        user_id=owner.user_id,
        archived=bool(owner.archived),
        teams=tuple(
            OwnerTeam(id=str(team.id), name=str(team.name), primary=bool(team.primary))
            for team in owner.teams or []
        ),
    )


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if isinstance(moment, datetime) else None


def _epoch_ms(moment: datetime) -> int:
    """HubSpot takes date filters in epoch milliseconds."""
    return int(moment.timestamp() * 1000)


def _hubspot_time(moment: datetime | None) -> str:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(body: object) -> object:
    if isinstance(body, bytes | str):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return None


def _seconds_to_utc_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()
