"""Inspection and control endpoints under `/_sandbox/`: what the clients wrote, how many requests
each vendor got per second, and runtime control (reset to the seed, change limits and faults).

These are the sandbox's own API (not a vendor's): plain JSON, no auth, no limits, no faults.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sandbox.config import SandboxConfig, Vendor
from sandbox.deps import RuntimeDep, StoreDep
from sandbox.errors import VendorError
from sandbox.seed import reseed
from sandbox.state import Record
from sandbox.vendors import airtable, google_calendar, google_drive, hubspot_model, notion

JsonObject = dict[str, Any]

router = APIRouter(tags=["sandbox"])


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


def _permissions_of(file_id: str, permissions: list[Record]) -> list[JsonObject]:
    return [p.data for p in permissions if p.data["fileId"] == file_id]


def _page_tree(page: Record, blocks: list[Record]) -> JsonObject:
    by_parent: dict[str, list[Record]] = {}
    for block in blocks:
        by_parent.setdefault(block.data["parentId"], []).append(block)

    def tree(parent_id: str) -> list[JsonObject]:
        return [{**b.data["block"], "children": tree(b.id)} for b in by_parent.get(parent_id, [])]

    return {**page.data, "blocks": tree(page.id)}
