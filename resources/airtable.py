"""Airtable through `pyairtable`: upsert records keyed on the HubSpot id, read them back.

Airtable allows 5 requests per second per base and answers a 429 with a 30-second penalty
during which every request fails. pyairtable neither throttles nor waits that long (its
default retry gives up after about 3 s), so its own retry is switched off and this connector
throttles each request to the base's budget and, on a 429, waits the penalty out (the
`Retry-After` when the response has one) before retrying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, SecretStr

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
    NO_RETRY,
    RateLimit,
    ResilientCaller,
    RetryPolicy,
    Throttle,
    Timeouts,
    chunked,
    request_not_sent,
)

if TYPE_CHECKING:
    from pyairtable import Api, Table

VENDOR = "airtable"
DEFAULT_KEY_FIELD = "HubSpot ID"
RECORDS_PER_REQUEST = 10  # Airtable's batch limit
KEYS_PER_LOOKUP = 50  # keys per filterByFormula, keeping the GET URL well under 16k
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
        )
        self._caller = ResilientCaller(vendor=VENDOR, policy=retry, classify=self._classify)

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

        10 records per request, each request throttled and retried on its own; re-running
        after a failure is safe (an upsert of the same fields is idempotent). Duplicate keys
        in `records` keep the last occurrence.
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
        table_api = self._table(table)
        created: list[str] = []
        updated: list[str] = []
        stored: list[AirtableRecord] = []
        for chunk in chunked(list(by_key.values()), RECORDS_PER_REQUEST):
            payload = [{"fields": fields} for fields in chunk]

            def upsert_chunk(payload: list[dict[str, Any]] = payload) -> Any:
                return table_api.batch_upsert(payload, key_fields=[key_field], typecast=typecast)

            result = self._caller.call(
                f"upsert {table}", upsert_chunk, throttles=(self.throttle,), write=True
            )
            created.extend(result["createdRecords"])
            updated.extend(result["updatedRecords"])
            stored.extend(_to_record(item) for item in result["records"])
        return UpsertResult(
            created_ids=tuple(created), updated_ids=tuple(updated), records=tuple(stored)
        )

    def find_by_keys(
        self, *, table: str, keys: Sequence[str], key_field: str = DEFAULT_KEY_FIELD
    ) -> dict[str, AirtableRecord]:
        """Records whose `key_field` equals one of `keys`, by key (absent keys are missing)."""
        from pyairtable.formulas import EQ, OR, Field, to_formula_str

        table_api = self._table(table)
        found: dict[str, AirtableRecord] = {}
        for chunk in chunked(list(dict.fromkeys(str(key) for key in keys)), KEYS_PER_LOOKUP):
            formula = to_formula_str(OR(*(EQ(Field(key_field), key) for key in chunk)))
            offset: str | None = None
            while True:
                options: dict[str, Any] = {"formula": formula, "page_size": PAGE_SIZE}
                if offset:
                    options["offset"] = offset

                def list_page(options: dict[str, Any] = options) -> Any:
                    return self._api.request("GET", table_api.urls.records, options=options)

                page = self._caller.call(f"list {table}", list_page, throttles=(self.throttle,))
                for item in page.get("records", []):
                    record = _to_record(item)
                    value = record.fields.get(key_field)
                    if value is not None:
                        found[str(value)] = record
                offset = page.get("offset")
                if not offset:
                    break
        return found

    def get_by_key(
        self, *, table: str, key: str, key_field: str = DEFAULT_KEY_FIELD
    ) -> AirtableRecord | None:
        """The record whose `key_field` equals `key`, or None."""
        return self.find_by_keys(table=table, keys=[key], key_field=key_field).get(str(key))

    def ping(self, *, timeout: float = 3.0) -> None:
        """One cheap authenticated call (`GET /v0/meta/whoami`); raises a ConnectorError."""
        self._caller.call(
            "ping",
            lambda: self._api.session.get(
                str(self._api.urls.whoami), timeout=(timeout, timeout)
            ).raise_for_status(),
            policy=NO_RETRY,
        )

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
        if not name:
            raise BadDataError("airtable: table name is empty", vendor=VENDOR, operation="table")
        return self._api.table(self.base_id, name)

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


def _to_record(item: Mapping[str, Any]) -> AirtableRecord:
    return AirtableRecord(
        id=str(item["id"]),
        created_time=item.get("createdTime"),
        fields=dict(item.get("fields") or {}),
    )
