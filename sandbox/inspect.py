"""Inspection and control endpoints under `/_sandbox/`: what the clients wrote, how many requests
each vendor got per second, and runtime control (reset to the seed, change limits and faults,
bulk-load HubSpot objects, empty the request log).

These are the sandbox's own API (not a vendor's): plain JSON, no auth, no limits, no faults.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from psycopg import errors as pg_errors
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sandbox.clock import iso_ms, now
from sandbox.config import SandboxConfig, Vendor
from sandbox.deps import RuntimeDep, StoreDep
from sandbox.errors import VendorError
from sandbox.seed import reseed
from sandbox.state import NewRecord, Record, Store
from sandbox.vendors import airtable, google_calendar, google_drive, hubspot_model, notion

JsonObject = dict[str, Any]

router = APIRouter(tags=["sandbox"])

# The most objects one bulk insert takes.
MAX_BULK_OBJECTS = 50_000


class BulkObject(BaseModel):
    """One object of a bulk insert."""

    model_config = ConfigDict(extra="forbid")

    # None: the next id, as a create through the API gets.
    id: str | None = None
    properties: dict[str, JsonValue] = Field(default_factory=dict)
    # Objects to associate with (default association types, both ways): {"companies": ["9001"]}.
    associations: dict[str, list[str]] = Field(default_factory=dict)


class BulkInsert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object_type: str = Field(alias="objectType")
    objects: list[BulkObject] = Field(min_length=1, max_length=MAX_BULK_OBJECTS)


@router.get("/health")
async def health() -> JsonObject:
    return {"status": "ok"}


@router.get("/config")
async def get_config(runtime: RuntimeDep) -> JsonObject:
    return runtime.config.model_dump(mode="json")


@router.put("/config")
async def put_config(config: SandboxConfig, runtime: RuntimeDep) -> JsonObject:
    """Replace the whole config; limits, penalties and fault sequences start afresh."""
    runtime.reconfigure(config)
    return config.model_dump(mode="json")


@router.post("/reset")
async def reset(store: StoreDep, runtime: RuntimeDep) -> JsonObject:
    """Back to the seed: every vendor's state and the request log; counters restart."""
    loaded = await reseed(store, runtime.config.seed_dir)
    runtime.restart_counters()
    return {"records": loaded}


@router.delete("/requests")
async def clear_request_log(store: StoreDep, runtime: RuntimeDep) -> JsonObject:
    """Empty the request log and restart the counters (limits, penalties, fault sequences);
    every vendor's state stays as it is."""
    deleted = await store.clear_requests()
    runtime.restart_counters()
    return {"deleted": deleted}


@router.get("/requests")
async def requests(
    store: StoreDep,
    vendor: Vendor | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> JsonObject:
    rows = await store.requests(vendor, limit)
    return {
        "requests": [
            {
                "vendor": r.vendor,
                "method": r.method,
                "path": r.path,
                "query": r.query,
                "status": r.status,
                "outcome": r.outcome,
                "receivedAt": r.received_at.isoformat(),
                "durationMs": r.duration_ms,
            }
            for r in rows
        ]
    }


@router.get("/requests/per-second")
async def requests_per_second(store: StoreDep, vendor: Vendor | None = None) -> JsonObject:
    """Per vendor and second: requests that reached a handler (`served`) and refused ones
    (rate limits, penalties, injected errors)."""
    rows = await store.requests_per_second(vendor)
    return {
        "seconds": [
            {"vendor": v, "second": second.isoformat(), "served": served, "refused": refused}
            for v, second, served, refused in rows
        ]
    }


@router.get("/requests/counts")
async def request_counts(store: StoreDep, vendor: Vendor | None = None) -> JsonObject:
    """Logged requests per vendor and outcome, over the whole log."""
    rows = await store.request_counts(vendor)
    return {
        "counts": [
            {"vendor": v, "outcome": outcome, "requests": count} for v, outcome, count in rows
        ]
    }


@router.post("/hubspot/objects", status_code=201)
async def hubspot_bulk_insert(body: BulkInsert, store: StoreDep) -> JsonObject:
    """Insert HubSpot objects straight into the state, in one transaction: what a create through
    the API stores (its properties, stamps and associations both ways), without a vendor request,
    so no rate limit counts it and the request log does not show it. Contacts' emails must be
    new (409 otherwise), as must given ids; association targets must exist (else 400)."""
    kind = _hubspot_type(body.object_type)
    required = hubspot_model.REQUIRED_ON_CREATE.get(kind, ())
    for item in body.objects:
        if missing := [name for name in required if not item.properties.get(name)]:
            raise VendorError(400, {"error": f"{kind} need {', '.join(missing)}"})
    links = {
        (index, _hubspot_type(name), str(target_id))
        for index, item in enumerate(body.objects)
        for name, target_ids in item.associations.items()
        for target_id in target_ids
    }
    async with store.conn.transaction():
        await _check_targets(store, kind, {(target, i) for _, target, i in links})
        if kind == "contacts":
            await _refuse_known_emails(store, body.objects)
        fresh = iter(await store.next_object_ids(sum(o.id is None for o in body.objects)))
        ids = [item.id or str(next(fresh)) for item in body.objects]
        stamp = iso_ms(now())
        records = [
            NewRecord(
                hubspot_model.VENDOR,
                kind,
                object_id,
                hubspot_model.new_object_data(
                    kind,
                    object_id,
                    {k: hubspot_model.property_text(v) for k, v in item.properties.items()},
                    stamp,
                ),
            )
            for object_id, item in zip(ids, body.objects, strict=True)
        ]
        for index, target, target_id in sorted(links):
            for a_type, a_id, b_type, b_id in (
                (kind, ids[index], target, target_id),
                (target, target_id, kind, ids[index]),
            ):
                records.append(
                    NewRecord(
                        hubspot_model.VENDOR,
                        hubspot_model.ASSOCIATIONS,
                        hubspot_model.association_key(a_type, a_id, b_type, b_id),
                        hubspot_model.association_data(a_type, a_id, b_type, b_id),
                    )
                )
        try:
            await store.insert_many(records)
        except pg_errors.UniqueViolation as exc:
            raise VendorError(409, {"error": f"an id is taken or repeated: {exc}"}) from exc
    return {"objectType": kind, "ids": ids}


@router.get("/hubspot/property-updates")
async def hubspot_property_updates(
    store: StoreDep,
    object_type: Annotated[str | None, Query(alias="objectType")] = None,
    object_id: Annotated[str | None, Query(alias="objectId")] = None,
) -> JsonObject:
    """Every PATCH of HubSpot properties, oldest first."""
    updates = [
        r.data
        for r in await store.scan(hubspot_model.VENDOR, hubspot_model.PROPERTY_UPDATES)
        if (object_type is None or r.data["objectType"] == hubspot_model.object_type(object_type))
        and (object_id is None or r.data["objectId"] == object_id)
    ]
    return {"results": updates}


@router.get("/hubspot/{object_type}")
async def hubspot_objects(object_type: str, store: StoreDep) -> JsonObject:
    """Stored objects of a type (notes, tasks, deals…), each with its associations."""
    kind = hubspot_model.object_type(object_type)
    links = await store.scan(hubspot_model.VENDOR, hubspot_model.ASSOCIATIONS)
    results = []
    for record in await store.scan(hubspot_model.VENDOR, kind):
        associations: dict[str, list[str]] = {}
        for link in links:
            if link.data["fromType"] == kind and link.data["fromId"] == record.id:
                associations.setdefault(link.data["toType"], []).append(link.data["toId"])
        results.append({"id": record.id, **record.data, "associations": associations})
    return {"results": results}


@router.get("/airtable")
async def airtable_tables(store: StoreDep) -> JsonObject:
    tables = []
    for meta in await store.scan(airtable.VENDOR, airtable.TABLES):
        records = await store.scan(airtable.VENDOR, meta.id)
        tables.append(
            {
                "base": meta.data["base"],
                "table": meta.data["name"],
                "records": len(records),
                "fieldTypes": meta.data["fieldTypes"],
            }
        )
    return {"tables": tables}


@router.get("/airtable/{base}/{table}")
async def airtable_records(base: str, table: str, store: StoreDep) -> JsonObject:
    """What was written to a table: its records (in write order) and inferred field types."""
    collection = airtable.records_collection(base, table)
    meta = await store.get(airtable.VENDOR, airtable.TABLES, collection)
    records = await store.scan(airtable.VENDOR, collection)
    return {
        "base": base,
        "table": table,
        "fieldTypes": meta.data["fieldTypes"] if meta else {},
        "records": [airtable.render(r) for r in records],
    }


@router.get("/notion/pages")
async def notion_pages(store: StoreDep) -> JsonObject:
    """Every page with its block tree, oldest first."""
    blocks = await store.scan(notion.VENDOR, notion.BLOCKS)
    pages = await store.scan(notion.VENDOR, notion.PAGES)
    return {"pages": [_page_tree(page, blocks) for page in pages]}


@router.get("/notion/pages/{page_id}")
async def notion_page(page_id: str, store: StoreDep) -> JsonObject:
    page = await store.get(notion.VENDOR, notion.PAGES, page_id)
    if page is None:
        raise VendorError(404, {"error": f"no page {page_id}"})
    return _page_tree(page, await store.scan(notion.VENDOR, notion.BLOCKS))


@router.get("/google/events")
async def google_events(
    store: StoreDep, calendar_id: Annotated[str | None, Query(alias="calendarId")] = None
) -> JsonObject:
    """Inserted calendar events with the `sendUpdates` each insert asked for."""
    return {
        "events": [
            r.data
            for r in await store.scan("google", google_calendar.EVENTS)
            if calendar_id is None or r.data["calendarId"] == calendar_id
        ]
    }


@router.get("/google/drive/copies")
async def drive_copies(store: StoreDep) -> JsonObject:
    """Files made by copying, with the source and the permissions granted on each."""
    permissions = await store.scan("google", google_drive.PERMISSIONS)
    copies = []
    for record in await store.scan("google", google_drive.FILES):
        if record.data["copiedFrom"] is None:
            continue
        copies.append(
            {
                "file": record.data["file"],
                "copiedFrom": record.data["copiedFrom"],
                "permissions": _permissions_of(record.id, permissions),
            }
        )
    return {"copies": copies}


@router.get("/google/drive/permissions")
async def drive_permissions(
    store: StoreDep, file_id: Annotated[str | None, Query(alias="fileId")] = None
) -> JsonObject:
    permissions = await store.scan("google", google_drive.PERMISSIONS)
    return {
        "permissions": [
            p.data for p in permissions if file_id is None or p.data["fileId"] == file_id
        ]
    }


def _hubspot_type(name: str) -> str:
    try:
        return hubspot_model.object_type(name)
    except VendorError:
        raise VendorError(400, {"error": f"no HubSpot object type {name!r}"}) from None


async def _check_targets(store: Store, kind: str, targets: set[tuple[str, str]]) -> None:
    for target, target_id in sorted(targets):
        if not hubspot_model.ASSOCIATION_TYPE_IDS.get((kind, target)):
            raise VendorError(400, {"error": f"no association type from {kind} to {target}"})
        if await store.get(hubspot_model.VENDOR, target, target_id) is None:
            raise VendorError(400, {"error": f"no {target} {target_id} to associate with"})


async def _refuse_known_emails(store: Store, objects: list[BulkObject]) -> None:
    """409 when a contact's email is already taken, by a stored contact or an earlier one."""
    taken = {
        str(r.data["properties"].get("email") or "").lower()
        for r in await store.scan(hubspot_model.VENDOR, "contacts")
    }
    for item in objects:
        email = str(item.properties.get("email") or "").lower()
        if not email:
            continue
        if email in taken:
            raise VendorError(409, {"error": f"a contact with email {email} exists"})
        taken.add(email)


def _permissions_of(file_id: str, permissions: list[Record]) -> list[JsonObject]:
    return [p.data for p in permissions if p.data["fileId"] == file_id]


def _page_tree(page: Record, blocks: list[Record]) -> JsonObject:
    by_parent: dict[str, list[Record]] = {}
    for block in blocks:
        by_parent.setdefault(block.data["parentId"], []).append(block)

    def tree(parent_id: str) -> list[JsonObject]:
        return [{**b.data["block"], "children": tree(b.id)} for b in by_parent.get(parent_id, [])]

    return {**page.data, "blocks": tree(page.id)}
