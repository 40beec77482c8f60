"""Airtable Web API v0, the record endpoints pyairtable 3.x calls.

- `GET /v0/meta/whoami`.
- `GET /v0/{base}/{table}` (and `POST …/listRecords`): `filterByFormula`, `pageSize` ≤ 100,
  `maxRecords`, `offset`, `sort[n][field|direction]`, `fields[]`.
- `GET /v0/{base}/{table}/{recordId}`.
- `POST /v0/{base}/{table}`: create one (`fields`) or up to 10 (`records`).
- `PATCH|PUT /v0/{base}/{table}`: update up to 10 records by id, or upsert them with
  `performUpsert.fieldsToMergeOn` (created and updated ids reported apart); PUT replaces fields.
- `PATCH|PUT|DELETE /v0/{base}/{table}/{recordId}`.

Sandbox convenience: a table exists as soon as something is written to it (and reads of a table
never written answer an empty list), unless `airtable.tables` in the config lists a base's
tables, in which case other names get Airtable's 403 model-not-found. A table's field types are
taken from the first values written; a later value of another type is refused with
INVALID_VALUE_FOR_COLUMN unless the request sets `typecast`, which converts it when it can.
Empty values (null, "", [], false) clear a field, and answers omit empty fields, as Airtable's do.

Every table has a computed "Last modified" field, as a base gets from a field of Airtable's type
"Last modified time" (the Web API has no modification time in a record's metadata, only
`createdTime`): answers carry it, ISO 8601 in UTC, moved by a write that changes a value, and a
write to it is refused like a write to any computed field. The reconciliation reads it to tell a
hand edit from the last write it knows of. `/_sandbox` inspections show the stored fields only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from starlette.datastructures import QueryParams

from sandbox.clock import iso_ms, now
from sandbox.config import SandboxConfig
from sandbox.deps import RuntimeDep, StoreDep
from sandbox.errors import airtable_error
from sandbox.state import Record, Store
from sandbox.vendors.airtable_formula import compile_formula, equality_terms
from sandbox.vendors.common import random_id, read_json

JsonObject = dict[str, Any]

router = APIRouter(tags=["airtable"])

VENDOR: Final = "airtable"
TABLES = "tables"
MAX_RECORDS_PER_REQUEST = 10
MAX_PAGE_SIZE = 100
MAX_MERGE_FIELDS = 3
# The computed "Last modified time" field every table has (see the module docstring).
LAST_MODIFIED_FIELD = "Last modified"


def records_collection(base: str, table: str) -> str:
    return f"{base}/{table}"


@router.get("/v0/meta/whoami")
async def whoami() -> JsonObject:
    """Who the token belongs to (declared before the record routes, which would match it)."""
    return {"id": "usrSandboxOrchestr", "scopes": ["data.records:read", "data.records:write"]}


@router.get("/v0/{base}/{table}")
async def list_records(
    base: str,
    table: str,
    request: Request,
    store: StoreDep,
    runtime: RuntimeDep,
    filter_by_formula: Annotated[str | None, Query(alias="filterByFormula")] = None,
    page_size: Annotated[int | None, Query(alias="pageSize")] = None,
    max_records: Annotated[int | None, Query(alias="maxRecords")] = None,
    offset: str | None = None,
) -> JsonObject:
    _check_table(runtime.config, base, table)
    params = request.query_params
    fields = params.getlist("fields[]") or params.getlist("fields") or None
    sort = _sort_from_query(params)
    return await _list(
        store, base, table, filter_by_formula, page_size, max_records, offset, fields, sort
    )


@router.post("/v0/{base}/{table}/listRecords")
async def list_records_post(
    base: str, table: str, request: Request, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    _check_table(runtime.config, base, table)
    body = await read_json(request, VENDOR)
    sort = [
        (str(s.get("field")), str(s.get("direction", "asc")))
        for s in body.get("sort") or []
        if isinstance(s, dict)
    ]
    return await _list(
        store,
        base,
        table,
        body.get("filterByFormula"),
        body.get("pageSize"),
        body.get("maxRecords"),
        body.get("offset"),
        body.get("fields"),
        sort,
    )


@router.get("/v0/{base}/{table}/{record_id}")
async def get_record(
    base: str, table: str, record_id: str, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    _check_table(runtime.config, base, table)
    record = await store.get(VENDOR, records_collection(base, table), record_id)
    if record is None:
        raise _record_not_found(record_id)
    return answer(record)


@router.post("/v0/{base}/{table}")
async def create_records(
    base: str, table: str, request: Request, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    _check_table(runtime.config, base, table)
    body = await read_json(request, VENDOR)
    typecast = bool(body.get("typecast"))
    single = "records" not in body
    items = [{"fields": body.get("fields", {})}] if single else _records(body)
    async with store.conn.transaction():
        writer = await _TableWriter.open(store, base, table, typecast)
        created = [await writer.create(_fields(item)) for item in items]
        await writer.save_schema()
    if single:
        return answer(created[0])
    return {"records": [answer(r) for r in created]}


@router.patch("/v0/{base}/{table}")
async def patch_records(
    base: str, table: str, request: Request, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    return await _write_many(base, table, request, store, runtime, replace=False)


@router.put("/v0/{base}/{table}")
async def put_records(
    base: str, table: str, request: Request, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    return await _write_many(base, table, request, store, runtime, replace=True)


@router.patch("/v0/{base}/{table}/{record_id}")
async def patch_record(
    base: str, table: str, record_id: str, request: Request, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    return await _write_one(base, table, record_id, request, store, runtime, replace=False)


@router.put("/v0/{base}/{table}/{record_id}")
async def put_record(
    base: str, table: str, record_id: str, request: Request, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    return await _write_one(base, table, record_id, request, store, runtime, replace=True)


@router.delete("/v0/{base}/{table}/{record_id}")
async def delete_record(
    base: str, table: str, record_id: str, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    _check_table(runtime.config, base, table)
    if not await store.delete(VENDOR, records_collection(base, table), record_id):
        raise _record_not_found(record_id)
    return {"id": record_id, "deleted": True}


def render(record: Record) -> JsonObject:
    """A record as stored: empty fields left out."""
    fields = {k: v for k, v in record.data["fields"].items() if not _empty(v)}
    return {"id": record.id, "createdTime": record.data["createdTime"], "fields": fields}


def answer(record: Record) -> JsonObject:
    """A record as Airtable answers it: the stored fields and the computed "Last modified"."""
    rendered = render(record)
    modified = record.data.get("modifiedTime") or record.data["createdTime"]
    rendered["fields"][LAST_MODIFIED_FIELD] = modified
    return rendered


async def _list(
    store: Store,
    base: str,
    table: str,
    formula: str | None,
    page_size: int | None,
    max_records: int | None,
    offset: str | None,
    fields: list[str] | None,
    sort: list[tuple[str, str]],
) -> JsonObject:
    size = MAX_PAGE_SIZE if page_size is None else page_size
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise airtable_error(
            422, "INVALID_REQUEST_UNKNOWN", f"pageSize must be between 1 and {MAX_PAGE_SIZE}"
        )
    collection = records_collection(base, table)
    if formula:
        predicate = compile_formula(formula)
        # A lookup by key reads only the records holding one of its values (an index), not
        # the whole table; the formula still decides.
        terms = equality_terms(formula)
        if terms and await _field_type(store, collection, terms[0]) in _SCALAR_TYPES:
            patterns = _field_patterns(*terms)
            records = await store.scan_containing_any(VENDOR, collection, patterns)
        else:
            records = await store.scan(VENDOR, collection)
        records = [r for r in records if predicate(r.data["fields"], r.id)]
    else:
        records = await store.scan(VENDOR, collection)
    # Stable sorts, last key first, give the multi-key order.
    for field, direction in reversed(sort):
        records.sort(key=_by_field(field), reverse=direction.lower() == "desc")
    if max_records is not None:
        records = records[: max(max_records, 0)]
    start = _offset_index(offset)
    page = records[start : start + size]
    rendered = [answer(r) for r in page]
    if fields:
        for item in rendered:
            item["fields"] = {k: v for k, v in item["fields"].items() if k in fields}
    listed: JsonObject = {"records": rendered}
    if start + size < len(records):
        listed["offset"] = f"itr{random_id(14)}/{page[-1].id}/{start + size}"
    return listed


async def _write_many(
    base: str, table: str, request: Request, store: Store, runtime: RuntimeDep, *, replace: bool
) -> JsonObject:
    _check_table(runtime.config, base, table)
    body = await read_json(request, VENDOR)
    items = _records(body)
    typecast = bool(body.get("typecast"))
    merge_on = _merge_fields(body.get("performUpsert"))
    created_ids: list[str] = []
    updated_ids: list[str] = []
    written: list[Record] = []
    async with store.conn.transaction():
        # One writer at a time per table, so two concurrent upserts cannot both create.
        await store.lock(f"airtable:{base}/{table}")
        writer = await _TableWriter.open(store, base, table, typecast)
        await writer.load(items, merge_on)
        for item in items:
            fields = _fields(item)
            if "id" in item:
                record = await writer.update(str(item["id"]), fields, replace=replace)
                updated_ids.append(record.id)
            elif merge_on is not None:
                match = writer.match(merge_on, fields)
                if match is None:
                    record = await writer.create(fields)
                    created_ids.append(record.id)
                else:
                    record = await writer.update(match.id, fields, replace=replace)
                    updated_ids.append(record.id)
            else:
                raise airtable_error(
                    422, "INVALID_RECORDS", "Each record needs an id unless performUpsert is set"
                )
            written.append(record)
        await writer.save_schema()
    answered: JsonObject = {"records": [answer(r) for r in written]}
    if merge_on is not None:
        answered = {"createdRecords": created_ids, "updatedRecords": updated_ids, **answered}
    return answered


async def _write_one(
    base: str,
    table: str,
    record_id: str,
    request: Request,
    store: Store,
    runtime: RuntimeDep,
    *,
    replace: bool,
) -> JsonObject:
    _check_table(runtime.config, base, table)
    body = await read_json(request, VENDOR)
    async with store.conn.transaction():
        writer = await _TableWriter.open(store, base, table, bool(body.get("typecast")))
        await writer.load([{"id": record_id}], None)
        record = await writer.update(record_id, _fields(body), replace=replace)
        await writer.save_schema()
    return answer(record)


class _TableWriter:
    """Writes to one table inside the caller's transaction, keeping its field types."""

    def __init__(
        self, store: Store, base: str, table: str, typecast: bool, schema: JsonObject
    ) -> None:
        self.store = store
        self.base = base
        self.table = table
        self.typecast = typecast
        self.schema = schema
        self.collection = records_collection(base, table)
        self.records: list[Record] = []

    @classmethod
    async def open(cls, store: Store, base: str, table: str, typecast: bool) -> _TableWriter:
        meta = await store.get(VENDOR, TABLES, records_collection(base, table))
        schema = meta.data if meta else {"base": base, "name": table, "fieldTypes": {}}
        return cls(store, base, table, typecast, schema)

    async def load(self, items: Sequence[JsonObject], merge_on: list[str] | None) -> None:
        """Read the records this request can touch: those it names by id, and those that
        hold one of its merge values in the first merge field (as text or as a number, so a
        typecast value is found too). The whole table only when a value cannot be looked up
        that way. Records created by the request are added as it goes."""
        ids = [str(item["id"]) for item in items if "id" in item]
        by_id = [await self.store.get(VENDOR, self.collection, record_id) for record_id in ids]
        self.records = [record for record in by_id if record is not None]
        merging = [_fields(item) for item in items if "id" not in item]
        if not merging or not merge_on:
            return
        values = [fields.get(merge_on[0]) for fields in merging]
        scalar = self.schema["fieldTypes"].get(merge_on[0]) in _SCALAR_TYPES
        if not scalar or not all(isinstance(v, str | int | float) and v != "" for v in values):
            self.records = await self.store.scan(VENDOR, self.collection)
            return
        known = {record.id for record in self.records}
        candidates = await self.store.scan_containing_any(
            VENDOR, self.collection, _field_patterns(merge_on[0], values)
        )
        self.records += [record for record in candidates if record.id not in known]

    def match(self, merge_on: list[str], fields: Mapping[str, Any]) -> Record | None:
        missing = [name for name in merge_on if _empty(fields.get(name))]
        if missing:
            raise airtable_error(
                422,
                "INVALID_VALUE_FOR_COLUMN",
                f"Fields to merge on must have values; missing {', '.join(missing)}",
            )
        wanted = {name: self._convert(name, fields[name]) for name in merge_on}
        hits = [
            r
            for r in self.records
            if all(_same(r.data["fields"].get(n), v) for n, v in wanted.items())
        ]
        if len(hits) > 1:
            raise airtable_error(
                422,
                "INVALID_REQUEST_UNKNOWN",
                f"Multiple records match the fields to merge on ({', '.join(merge_on)})",
            )
        return hits[0] if hits else None

    async def create(self, fields: Mapping[str, Any]) -> Record:
        stored = self._cleaned(fields)
        stamp = iso_ms(now())
        data = {"fields": stored, "createdTime": stamp, "modifiedTime": stamp}
        record = await self.store.put(VENDOR, self.collection, f"rec{random_id(14)}", data)
        self.records.append(record)
        return record

    async def update(self, record_id: str, fields: Mapping[str, Any], *, replace: bool) -> Record:
        current = next((r for r in self.records if r.id == record_id), None)
        if current is None:
            raise _record_not_found(record_id)
        merged = {} if replace else dict(current.data["fields"])
        merged.update(self._converted(fields))
        stored = {k: v for k, v in merged.items() if not _empty(v)}
        data = {**current.data, "fields": stored}
        if stored != current.data["fields"]:  # "Last modified time" moves on a change only
            data["modifiedTime"] = iso_ms(now())
        record = await self.store.put(VENDOR, self.collection, record_id, data)
        self.records = [record if r.id == record_id else r for r in self.records]
        return record

    async def save_schema(self) -> None:
        await self.store.put(VENDOR, TABLES, self.collection, self.schema)

    def _cleaned(self, fields: Mapping[str, Any]) -> JsonObject:
        return {k: v for k, v in self._converted(fields).items() if not _empty(v)}

    def _converted(self, fields: Mapping[str, Any]) -> JsonObject:
        return {name: self._convert(name, value) for name, value in fields.items()}

    def _convert(self, name: str, value: Any) -> Any:
        if name == LAST_MODIFIED_FIELD:
            raise airtable_error(
                422,
                "INVALID_VALUE_FOR_COLUMN",
                f'Field "{name}" cannot accept a value because the field is computed',
            )
        if _empty(value):
            return value
        types: dict[str, str] = self.schema["fieldTypes"]
        kind = _kind(value)
        expected = types.setdefault(name, kind)
        if kind == expected:
            return value
        converted = _typecast(value, expected) if self.typecast else None
        if converted is None:
            raise airtable_error(
                422,
                "INVALID_VALUE_FOR_COLUMN",
                f'Field "{name}" cannot accept the provided value',
            )
        return converted


def _check_table(config: SandboxConfig, base: str, table: str) -> None:
    declared = config.airtable.tables
    if declared is None:
        return
    if table not in declared.get(base, []):
        raise airtable_error(
            403,
            "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
            "Invalid permissions, or the requested model was not found. Check that both your"
            " user and your token have the required permissions, and that the model names"
            " and/or ids are correct.",
        )


def _records(body: JsonObject) -> list[JsonObject]:
    items = body.get("records")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items) or not items:
        raise airtable_error(422, "INVALID_RECORDS", "records must be a non-empty array of objects")
    if len(items) > MAX_RECORDS_PER_REQUEST:
        raise airtable_error(
            422,
            "INVALID_RECORDS",
            f"You can only send up to {MAX_RECORDS_PER_REQUEST} records per request;"
            f" got {len(items)}",
        )
    return items


def _fields(item: Mapping[str, Any]) -> JsonObject:
    fields = item.get("fields", {})
    if not isinstance(fields, dict):
        raise airtable_error(422, "INVALID_REQUEST_UNKNOWN", "fields must be an object")
    return fields


def _merge_fields(upsert: Any) -> list[str] | None:
    if upsert is None:
        return None
    names = upsert.get("fieldsToMergeOn") if isinstance(upsert, dict) else None
    if (
        not isinstance(names, list)
        or not 1 <= len(names) <= MAX_MERGE_FIELDS
        or not all(isinstance(n, str) for n in names)
    ):
        raise airtable_error(
            422,
            "INVALID_REQUEST_UNKNOWN",
            "performUpsert.fieldsToMergeOn must name 1 to 3 fields",
        )
    return names


def _sort_from_query(params: QueryParams) -> list[tuple[str, str]]:
    sort: list[tuple[str, str]] = []
    index = 0
    while (field := params.get(f"sort[{index}][field]")) is not None:
        sort.append((field, params.get(f"sort[{index}][direction]", "asc")))
        index += 1
    return sort


def _offset_index(offset: str | None) -> int:
    if not offset:
        return 0
    try:
        return int(offset.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        raise airtable_error(
            422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", "The offset is not valid"
        ) from None


def _record_not_found(record_id: str) -> Exception:
    return airtable_error(404, "NOT_FOUND", f"Could not find a record with ID {record_id!r}")


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "checkbox"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "multipleValues"
    if isinstance(value, dict):
        return "object"
    return "text"


def _typecast(value: Any, kind: str) -> Any:
    """Airtable's `typecast`: text to numbers and checkboxes, anything to text, one value to a
    list. None when the value cannot become `kind`."""
    match kind:
        case "text":
            return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        case "number":
            try:
                number = float(str(value).replace(",", ""))
            except ValueError:
                return None
            return int(number) if number.is_integer() else number
        case "checkbox":
            return str(value).strip().lower() in ("true", "1", "yes", "checked")
        case "multipleValues":
            return [value]
    return None


# Field types whose stored values are one string or one number, which jsonb containment
# compares as the formulas and merges do.
_SCALAR_TYPES = ("text", "number")


async def _field_type(store: Store, collection: str, field: str) -> str | None:
    meta = await store.get(VENDOR, TABLES, collection)
    types: dict[str, str] = meta.data.get("fieldTypes", {}) if meta else {}
    return types.get(field)


def _field_patterns(field: str, values: Sequence[Any]) -> list[JsonObject]:
    """jsonb containment patterns matching `field` holding any of `values`, as text or as a
    number (what a typecast or a formula's comparison would also treat as equal)."""
    variants: list[Any] = []
    for value in values:
        variants.append(value)
        if isinstance(value, str):
            number = _as_float(value)
            if number is not None and math.isfinite(number):
                variants.append(number)
        elif isinstance(value, int | float) and math.isfinite(value):
            variants += [str(value), repr(float(value))]
            if float(value).is_integer():
                variants.append(str(int(value)))
    unique = list(dict.fromkeys(json.dumps(v) for v in variants))
    return [{"fields": {field: json.loads(v)}} for v in unique]


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, int | float) and isinstance(wanted, int | float):
        return float(stored) == float(wanted)
    return bool(stored == wanted)


def _by_field(field: str) -> Callable[[Record], tuple[int, float, str]]:
    def key(record: Record) -> tuple[int, float, str]:
        value = record.data["fields"].get(field)
        if value is None or value == "":
            return (1, 0.0, "")
        if isinstance(value, int | float):
            return (0, float(value), "")
        return (0, 0.0, str(value).lower())

    return key
