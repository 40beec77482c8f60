"""Airtable through `pyairtable`: upsert records keyed on the HubSpot id, read them back.

Airtable allows 5 requests per second per base and answers a 429 with a 30-second penalty
during which every request fails. pyairtable neither throttles nor waits that long (its
default retry gives up after about 3 s), so its own retry is switched off and this connector
throttles each request to the base's budget and, on a 429, waits the penalty out (the
`Retry-After` when the response has one) before retrying.

One connector is shared by the threads of a process, and their calls are combined
(`resources/coalescing.py`): concurrent upserts to one table share requests of up to 10
records, concurrent reads by key share one `filterByFormula` query, and each caller gets its
own records back (or its own error). A lone call is sent at once, as one request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, cast

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
    request_not_sent,
)

if TYPE_CHECKING:
    from pyairtable import Api, Table

VENDOR = "airtable"
DEFAULT_KEY_FIELD = "HubSpot ID"
RECORDS_PER_REQUEST = 10  # Airtable's batch limit
KEYS_PER_LOOKUP = 50  # keys per filterByFormula
FORMULA_MAX_CHARS = 4_000  # and characters, keeping the GET URL well under Airtable's 16k
PAGE_SIZE = 100


class AirtableRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    created_time: str | None = None
    fields: dict[str, Any]


class UpsertResult(BaseModel):
    """What an upsert did: ids created and updated, and every record as Airtable holds it."""

    model_config = ConfigDict(frozen=True)

    created_ids: tuple[str, ...]
    updated_ids: tuple[str, ...]
    records: tuple[AirtableRecord, ...]


class _UpsertLane(NamedTuple):
    table: str
    key_field: str
    typecast: bool


class _LookupLane(NamedTuple):
    table: str
    key_field: str


class _Upsert(NamedTuple):
    key: str  # the key field's value, as text
    fields: dict[str, Any]


class _Upserted(NamedTuple):
    record: AirtableRecord
    created: bool


class AirtableConnector:
    """One Airtable base: throttled, penalty-aware upserts and reads by key."""

    def __init__(
        self,
        *,
        api_key: SecretStr | str,
        base_id: str,
        endpoint_url: str,
        requests_per_second: int,
        rate_limit_penalty_seconds: float,
        timeouts: Timeouts,
        retry: RetryPolicy,
        mode: str = "live",
        shared_budget: SharedBudget | None = None,
        call_observer: CallObserver | None = None,
    ) -> None:
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not key.get_secret_value():
            raise ValueError("Airtable API key is empty")
        if not base_id:
            raise ValueError("Airtable base id is empty")
        self._key = key
        self.base_id = base_id
        self.endpoint_url = endpoint_url.rstrip("/")
        self.mode = mode
        self.timeouts = timeouts
        self.rate_limit_penalty_seconds = rate_limit_penalty_seconds
        # Airtable counts per base: one throttle per connector, and one connector per base.
        self.throttle = Throttle(
            f"airtable:{base_id}",
            [RateLimit(requests_per_second, 1.0)],
            vendor=VENDOR,
            max_wait_seconds=max(120.0, rate_limit_penalty_seconds * 2),
            shared=shared_budget,
            shared_key=f"airtable {self.endpoint_url} {base_id}",
        )
        self._caller = ResilientCaller(
            vendor=VENDOR, policy=retry, classify=self._classify, observer=call_observer
        )
        # A record's key field value is its identity: two upserts of one key never share a
        # request. A refused request (422) may be one caller's bad record: each caller's
        # records are then sent again on their own, so only that caller fails.
        self._upserts: Coalescer[_UpsertLane, _Upsert, _Upserted] = Coalescer(
            self._send_upserts,
            max_items=RECORDS_PER_REQUEST,
            identity=lambda upsert: upsert.key,
            isolate=lambda error: isinstance(error, BadDataError),
        )
        self._lookups: Coalescer[_LookupLane, str, AirtableRecord | None] = Coalescer(
            self._send_lookup,
            max_items=KEYS_PER_LOOKUP,
            weight=lambda lane, key: len(_key_formula(lane.key_field, key)) + 1,
            max_weight=FORMULA_MAX_CHARS,
        )

    @classmethod
    def from_connection(
        cls, connection: Connection, *, base_id: str, **options: Any
    ) -> AirtableConnector:
        if connection.credential is None:
            raise ValueError("Airtable connection has no credential")
        return cls(
            api_key=connection.credential,
            base_id=base_id,
            endpoint_url=connection.base_url,
            mode=connection.mode,
            **options,
        )

    def __repr__(self) -> str:
        return (
            f"AirtableConnector(endpoint_url={self.endpoint_url!r}, base_id={self.base_id!r}, "
            f"mode={self.mode!r})"
        )

    def upsert_records(
        self,
        *,
        table: str,
        records: Sequence[Mapping[str, Any]],
        key_field: str = DEFAULT_KEY_FIELD,
        typecast: bool = True,
    ) -> UpsertResult:
        """Create or update records (field name -> value) matched on `key_field`.

        10 records per request (shared with concurrent callers' records of the same table),
        each request throttled and retried on its own; re-running after a failure is safe (an
        upsert of the same fields is idempotent). Duplicate keys in `records` keep the last
        occurrence.
        """
        by_key: dict[str, dict[str, Any]] = {}
        for record in records:
            key = record.get(key_field)
            if key is None or key == "":
                raise BadDataError(
                    f"airtable upsert: a record has no {key_field!r} value",
                    vendor=VENDOR,
                    operation="upsert",
                )
            by_key[str(key)] = dict(record)
        _check_table_name(table)
        upserted = self._upserts.submit(
            _UpsertLane(table, key_field, typecast),
            [_Upsert(key, fields) for key, fields in by_key.items()],
        )
        return UpsertResult(
            created_ids=tuple(item.record.id for item in upserted if item.created),
            updated_ids=tuple(item.record.id for item in upserted if not item.created),
            records=tuple(item.record for item in upserted),
        )

    def find_by_keys(
        self, *, table: str, keys: Sequence[str], key_field: str = DEFAULT_KEY_FIELD
    ) -> dict[str, AirtableRecord]:
        """Records whose `key_field` equals one of `keys`, by key (absent keys are missing).

        One `filterByFormula` query per 50 keys, shared with concurrent callers' lookups in
        the same table and field."""
        _check_table_name(table)
        wanted = list(dict.fromkeys(str(key) for key in keys))
        found = self._lookups.submit(_LookupLane(table, key_field), wanted)
        return {key: record for key, record in zip(wanted, found, strict=True) if record}

    def get_by_key(
        self, *, table: str, key: str, key_field: str = DEFAULT_KEY_FIELD
    ) -> AirtableRecord | None:
        """The record whose `key_field` equals `key`, or None."""
        return self.find_by_keys(table=table, keys=[key], key_field=key_field).get(str(key))

    def list_records(
        self, *, table: str, fields: Sequence[str] | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[AirtableRecord]:
        """Every record of `table` (only `fields`, when named), lazily, one throttled request
        per page of up to 100 records (Airtable's largest page), each page retried on its own."""
        _check_table_name(table)
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {PAGE_SIZE}")
        options: dict[str, Any] = {"page_size": page_size}
        if fields is not None:
            options["fields"] = list(fields)
        for page in self._pages(table, lambda: options):
            for item in page.get("records", []):
                yield _to_record(item)

    def close(self) -> None:
        api = self.__dict__.pop("_api", None)
        if api is not None:
            api.session.close()

    # -- internals -----------------------------------------------------------------------

    @cached_property
    def _api(self) -> Api:
        from pyairtable import Api

        # retry_strategy=None: no urllib3 retries under us; waiting is ours.
        return Api(
            self._key.get_secret_value(),
            # pyairtable annotates ints; requests takes float seconds.
            timeout=cast("tuple[int, int]", self.timeouts.as_tuple()),
            retry_strategy=None,
            endpoint_url=self.endpoint_url,
        )

    def _table(self, name: str) -> Table:
        _check_table_name(name)
        return self._api.table(self.base_id, name)

    def _send_upserts(self, lane: _UpsertLane, batch: Batch[_Upsert]) -> list[_Upserted]:
        """One `performUpsert` request of up to 10 records, taken once its slot is granted."""
        table_api = self._table(lane.table)

        def upsert() -> Any:
            payload = [{"fields": item.fields} for item in batch.items]
            return table_api.batch_upsert(
                payload, key_fields=[lane.key_field], typecast=lane.typecast
            )

        result = self._caller.call(
            f"upsert {lane.table}", upsert, throttles=(self.throttle,), write=True
        )
        stored = [_to_record(item) for item in result["records"]]
        records = _in_request_order(batch.items, stored, lane.key_field)
        if records is None:
            raise TransientConnectorError(
                f"airtable upsert {lane.table}: the answer has {len(stored)} records for"
                f" {len(batch.items)} sent",
                vendor=VENDOR,
                operation=f"upsert {lane.table}",
                may_have_applied=True,
            )
        created = set(result["createdRecords"])
        return [_Upserted(record, record.id in created) for record in records]

    def _send_lookup(self, lane: _LookupLane, batch: Batch[str]) -> list[AirtableRecord | None]:
        """One `filterByFormula` OR-query for the batch's keys (all its pages)."""
        from pyairtable.formulas import EQ, OR, Field, to_formula_str

        def options() -> dict[str, Any]:
            # Built when the request goes out: lookups that join the batch while it waits for
            # the throttle are in its formula.
            formula = OR(*(EQ(Field(lane.key_field), key) for key in dict.fromkeys(batch.items)))
            return {"formula": to_formula_str(formula), "page_size": PAGE_SIZE}

        found: dict[str, AirtableRecord] = {}
        for page in self._pages(lane.table, options):
            for item in page.get("records", []):
                record = _to_record(item)
                value = record.fields.get(lane.key_field)
                if value is not None:
                    found[str(value)] = record
        return [found.get(key) for key in batch.items]

    def _pages(self, table: str, options: Callable[[], dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The pages of a list request (`options()`: pyairtable's, read as each request goes
        out), following `offset`; one throttled request per page, each retried on its own."""
        table_api = self._table(table)
        offset: str | None = None
        while True:

            def list_page(offset: str | None = offset) -> Any:
                return self._api.request(
                    "GET",
                    table_api.urls.records,
                    fallback=("POST", table_api.urls.records_post),
                    options={**options(), **({"offset": offset} if offset else {})},
                )

            page: dict[str, Any] = self._caller.call(
                f"list {table}", list_page, throttles=(self.throttle,)
            )
            yield page
            offset = page.get("offset")
            if not offset:
                return

    def _classify(self, exc: BaseException, operation: str, write: bool) -> ConnectorError | None:
        import requests

        secrets = (self._key.get_secret_value(),)
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            response = exc.response
            try:
                payload: object = response.json()
            except ValueError:
                payload = None
            reason, code = vendor_reason(payload, fallback=response.reason or "")
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if response.status_code == 429 and retry_after is None:
                retry_after = self.rate_limit_penalty_seconds
            if response.status_code == 403 and code == "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND":
                # Airtable's answer for a base or table that does not exist (or is not shared
                # with the token): most often a wrong or renamed table, so "not found".
                return NotFoundError(
                    f"airtable {operation} failed: HTTP 403: {code}",
                    vendor=VENDOR,
                    operation=operation,
                    status=403,
                    code=code,
                )
            return error_for_status(
                vendor=VENDOR,
                operation=operation,
                status=response.status_code,
                reason=reason,
                code=code,
                retry_after=retry_after,
                secrets=secrets,
                is_write=write,
            )
        if isinstance(exc, requests.RequestException):
            not_sent = request_not_sent(exc)
            return TransientConnectorError(
                f"airtable {operation} failed: {type(exc).__name__}"
                + (" (not sent)" if not_sent else ""),
                vendor=VENDOR,
                operation=operation,
                may_have_applied=write and not not_sent,
            )
        if isinstance(exc, ValueError):
            return BadDataError(
                f"airtable {operation}: invalid request", vendor=VENDOR, operation=operation
            )
        return None


def _check_table_name(name: str) -> None:
    if not name:
        raise BadDataError("airtable: table name is empty", vendor=VENDOR, operation="table")


def _key_formula(key_field: str, key: str) -> str:
    from pyairtable.formulas import EQ, Field, to_formula_str

    return to_formula_str(EQ(Field(key_field), key))


def _in_request_order(
    sent: Sequence[_Upsert], stored: Sequence[AirtableRecord], key_field: str
) -> list[AirtableRecord] | None:
    """The answer's records in the order they were sent, matched on the merge key (unique in
    a request), else by position (Airtable answers in request order; a typecast key can read
    back differently, 7001 as 7001.0); None when the answer does not fit what was sent."""
    if len(stored) != len(sent):
        return None
    by_key = {str(record.fields.get(key_field)): record for record in stored}
    if len(by_key) == len(sent) and all(item.key in by_key for item in sent):
        return [by_key[item.key] for item in sent]
    return list(stored)


def _to_record(item: Mapping[str, Any]) -> AirtableRecord:
    return AirtableRecord(
        id=str(item["id"]),
        created_time=item.get("createdTime"),
        fields=dict(item.get("fields") or {}),
    )
