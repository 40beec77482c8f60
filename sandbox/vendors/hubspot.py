"""HubSpot CRM v3, the subset hubspot-api-client uses here.

- `GET /crm/v3/objects/{type}` (a page of objects; `limit` ≤ 100, `after`).
- `GET /crm/v3/objects/{type}/{id}` with repeated `properties`/`associations`, `archived`,
  `idProperty`; a merged-away id answers with the object it was merged into, as HubSpot does.
- `POST /crm/v3/objects/{type}/batch/read` (≤100 inputs; 207 with errors for unknown ids) and
  `POST /crm/v3/objects/{type}/batch/update`.
- `POST /crm/v4/associations/{fromType}/{toType}/batch/read` (≤100 inputs, each with an optional
  `after`): per object its associated ids with their v4 types and labels, `paging.next.after`
  past `association_page_size` (500) of them; an object with none of the type (or none at all)
  is a 207 error `crm.associations.NO_ASSOCIATIONS_FOUND`, as HubSpot answers.
- `POST /crm/v3/objects/{type}/search`: filter groups, one sort, `query`, `limit` ≤ 200, `after`
  paging; paging past `search_result_cap` (10,000 by default) is a 400, as in HubSpot.
- `PATCH /crm/v3/objects/{type}/{id}`: updates properties, bumps the last-modified property.
- `POST /crm/v3/objects/{type}` (notes and tasks need `hs_timestamp`) with associations.
- `GET /crm/v3/owners/` and `/crm/v3/owners/{ownerId}`.

Types: companies, contacts, deals, notes, tasks (or their ids `0-2`, `0-1`, `0-3`, `0-46`, `0-27`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from sandbox.clock import iso_ms, now
from sandbox.deps import RuntimeDep, StoreDep
from sandbox.errors import hubspot_error
from sandbox.state import Record, Store
from sandbox.vendors.common import read_json
from sandbox.vendors.hubspot_model import (
    ASSOCIATIONS,
    MODIFIED_PROPERTY,
    OWNERS,
    PROPERTY_UPDATES,
    READ_ONLY_PROPERTIES,
    REQUIRED_ON_CREATE,
    SEARCHABLE_PROPERTIES,
    SINGULAR,
    VENDOR,
    association_data,
    association_key,
    association_label,
    association_target,
    association_types_v4,
    new_object_data,
    object_type,
    property_text,
    render_object,
    split_names,
)
from sandbox.vendors.hubspot_search import matches_query, parse_search, sort_records

JsonObject = dict[str, Any]

router = APIRouter(tags=["hubspot"])

MAX_BATCH = 100
MAX_PAGE = 100

ListQuery = Annotated[list[str] | None, Query()]


@router.get("/crm/v3/objects/{type_name}")
async def list_objects(
    type_name: str,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10,
    after: str | None = None,
    properties: ListQuery = None,
    associations: ListQuery = None,
    archived: bool = False,
) -> JsonObject:
    kind = object_type(type_name)
    records = [
        r for r in await store.scan(VENDOR, kind) if bool(r.data.get("archived")) == archived
    ]
    start = int(after) if after and after.isdigit() else 0
    wanted = split_names(properties)
    results = []
    for record in records[start : start + limit]:
        linked = await _associations(store, kind, record.id, split_names(associations))
        results.append(render_object(kind, record.id, record.data, wanted, linked))
    page: JsonObject = {"results": results}
    if start + limit < len(records):
        page["paging"] = {"next": {"after": str(start + limit)}}
    return page


@router.get("/crm/v3/objects/{type_name}/{object_id}")
async def get_object(
    type_name: str,
    object_id: str,
    store: StoreDep,
    properties: ListQuery = None,
    associations: ListQuery = None,
    archived: bool = False,
    id_property: Annotated[str | None, Query(alias="idProperty")] = None,
) -> JsonObject:
    kind = object_type(type_name)
    record = await _find(store, kind, object_id, archived=archived, id_property=id_property)
    if record is None:
        raise _not_found(kind, object_id)
    linked = await _associations(store, kind, record.id, split_names(associations))
    return render_object(kind, record.id, record.data, split_names(properties), linked)


@router.post("/crm/v3/objects/{type_name}/batch/read")
async def batch_read(
    type_name: str, request: Request, store: StoreDep, archived: bool = False
) -> JSONResponse:
    kind = object_type(type_name)
    body = await read_json(request, VENDOR)
    inputs = _inputs(body)
    started = iso_ms(now())
    wanted = body.get("properties") or None
    id_property = body.get("idProperty")
    results: list[JsonObject] = []
    missing: list[str] = []
    for item in inputs:
        object_id = str(item.get("id", ""))
        record = await _find(store, kind, object_id, archived=archived, id_property=id_property)
        if record is None:
            missing.append(object_id)
        else:
            results.append(render_object(kind, record.id, record.data, wanted))
    answer: JsonObject = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso_ms(now()),
    }
    if not missing:
        return JSONResponse(answer)
    answer["numErrors"] = 1
    answer["errors"] = [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {SINGULAR[kind].upper()} objects, they may be"
            " deleted or not exist. Check that ids are valid.",
            "context": {"ids": missing},
        }
    ]
    return JSONResponse(answer, status_code=207)


@router.post("/crm/v3/objects/{type_name}/batch/update")
async def batch_update(type_name: str, request: Request, store: StoreDep) -> JsonObject:
    kind = object_type(type_name)
    inputs = _inputs(await read_json(request, VENDOR))
    started = iso_ms(now())
    async with store.conn.transaction():
        updated = [
            await _update(store, kind, str(item.get("id", "")), item.get("properties"))
            for item in inputs
        ]
    return {
        "status": "COMPLETE",
        "results": [render_object(kind, r.id, r.data, None) for r in updated],
        "startedAt": started,
        "completedAt": iso_ms(now()),
    }


@router.post("/crm/v4/associations/{from_name}/{to_name}/batch/read")
async def batch_read_associations(
    from_name: str, to_name: str, request: Request, store: StoreDep, runtime: RuntimeDep
) -> JSONResponse:
    from_type, to_type = object_type(from_name), object_type(to_name)
    inputs = _inputs(await read_json(request, VENDOR))
    page_size = runtime.config.hubspot.association_page_size
    started = iso_ms(now())
    results: list[JsonObject] = []
    errors: list[JsonObject] = []
    for item in inputs:
        from_id = str(item.get("id", ""))
        after = str(item.get("after") or "0")
        start = int(after) if after.isdigit() else 0
        found = await store.get(VENDOR, from_type, from_id)
        rows = []
        if found is not None and not found.data.get("archived"):
            rows = [
                row
                for row in await store.scan_matching(
                    VENDOR, ASSOCIATIONS, {"fromType": from_type, "fromId": from_id}
                )
                if row.data["toType"] == to_type
            ]
        if not rows:
            errors.append(_no_associations(from_type, from_id, to_type))
            continue
        result: JsonObject = {
            "from": {"id": from_id},
            "to": [
                {
                    "toObjectId": row.data["toId"],
                    "associationTypes": association_types_v4(
                        from_type,
                        to_type,
                        [t["associationTypeId"] for t in row.data["types"]],
                    ),
                }
                for row in rows[start : start + page_size]
            ],
        }
        if start + page_size < len(rows):
            result["paging"] = {"next": {"after": str(start + page_size)}}
        results.append(result)
    answer: JsonObject = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso_ms(now()),
    }
    if not errors:
        return JSONResponse(answer)
    return JSONResponse({**answer, "numErrors": len(errors), "errors": errors}, status_code=207)


@router.post("/crm/v3/objects/{type_name}/search")
async def search(
    type_name: str, request: Request, store: StoreDep, runtime: RuntimeDep
) -> JsonObject:
    kind = object_type(type_name)
    spec = parse_search(await read_json(request, VENDOR))
    cap = runtime.config.hubspot.search_result_cap
    if spec.after >= cap:
        raise hubspot_error(
            400,
            "VALIDATION_ERROR",
            f"Search results are limited to {cap} per query; cannot page past after={cap}."
            " Narrow the filters, for example sort on hs_object_id and filter GT the last id.",
        )
    hits: list[Record] = []
    for record in await store.scan(VENDOR, kind):
        if record.data.get("archived"):
            continue
        props = {**record.data["properties"], "hs_object_id": record.id}
        if not spec.matches(props):
            continue
        if spec.query and not matches_query(props, spec.query, SEARCHABLE_PROPERTIES[kind]):
            continue
        hits.append(record)

    hits = sort_records(hits, spec.sort_property, descending=spec.descending)
    end = min(spec.after + spec.limit, cap)
    page = hits[spec.after : end]
    answer: JsonObject = {
        "total": len(hits),
        "results": [render_object(kind, r.id, r.data, spec.properties) for r in page],
    }
    # Like HubSpot, keep offering the next page even when it lies past the cap.
    if end < len(hits):
        answer["paging"] = {"next": {"after": str(end)}}
    return answer


@router.patch("/crm/v3/objects/{type_name}/{object_id}")
async def update_object(
    type_name: str,
    object_id: str,
    request: Request,
    store: StoreDep,
    id_property: Annotated[str | None, Query(alias="idProperty")] = None,
) -> JsonObject:
    kind = object_type(type_name)
    body = await read_json(request, VENDOR)
    async with store.conn.transaction():
        found = await _find(store, kind, object_id, id_property=id_property)
        if found is None:
            raise _not_found(kind, object_id)
        record = await _update(store, kind, found.id, body.get("properties"))
    return render_object(kind, record.id, record.data, None)


@router.post("/crm/v3/objects/{type_name}", status_code=201)
async def create_object(type_name: str, request: Request, store: StoreDep) -> JsonObject:
    kind = object_type(type_name)
    body = await read_json(request, VENDOR)
    properties = _properties(body.get("properties"))
    for name in REQUIRED_ON_CREATE.get(kind, ()):
        if not properties.get(name):
            raise hubspot_error(
                400, "VALIDATION_ERROR", f"Property values were not valid: {name} is required"
            )
    links = _association_specs(kind, body.get("associations"))
    async with store.conn.transaction():
        if kind == "contacts" and properties.get("email"):
            await _refuse_duplicate_email(store, properties["email"])
        for target_type, target_id in links:
            if await store.get(VENDOR, target_type, target_id) is None:
                raise hubspot_error(
                    400,
                    "VALIDATION_ERROR",
                    f"One or more associations are invalid: {SINGULAR[target_type]}"
                    f" {target_id} does not exist",
                )
        object_id = str(await store.next_object_id())
        data = new_object_data(kind, object_id, properties, iso_ms(now()))
        await store.put(VENDOR, kind, object_id, data)
        for target_type, target_id in links:
            await link(store, kind, object_id, target_type, target_id)
    return render_object(kind, object_id, data, None)


@router.get("/crm/v3/owners/")
@router.get("/crm/v3/owners")
async def list_owners(
    store: StoreDep,
    email: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: str | None = None,
    archived: bool = False,
) -> JsonObject:
    owners = [
        r.data
        for r in await store.scan(VENDOR, OWNERS)
        if bool(r.data.get("archived")) == archived
        and (email is None or str(r.data.get("email", "")).lower() == email.lower())
    ]
    start = int(after) if after and after.isdigit() else 0
    page: JsonObject = {"results": owners[start : start + limit]}
    if start + limit < len(owners):
        page["paging"] = {"next": {"after": str(start + limit)}}
    return page


@router.get("/crm/v3/owners/{owner_id}")
async def get_owner(
    owner_id: str,
    store: StoreDep,
    id_property: Annotated[str, Query(alias="idProperty")] = "id",
    archived: bool = False,
) -> JsonObject:
    for record in await store.scan(VENDOR, OWNERS):
        owner = record.data
        if str(owner.get(id_property)) == owner_id and bool(owner.get("archived")) == archived:
            return owner
    raise hubspot_error(404, "OBJECT_NOT_FOUND", f"Owner {owner_id} not found")


async def link(store: Store, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
    """Associate two objects, both directions (what HubSpot shows from either side)."""
    for a_type, a_id, b_type, b_id in (
        (from_type, from_id, to_type, to_id),
        (to_type, to_id, from_type, from_id),
    ):
        await store.put(
            VENDOR,
            ASSOCIATIONS,
            association_key(a_type, a_id, b_type, b_id),
            association_data(a_type, a_id, b_type, b_id),
        )


async def _find(
    store: Store,
    kind: str,
    object_id: str,
    *,
    archived: bool = False,
    id_property: str | None = None,
) -> Record | None:
    if id_property and id_property != "hs_object_id":
        wanted = object_id.lower()
        candidates = [
            r
            for r in await store.scan(VENDOR, kind)
            if str(r.data["properties"].get(id_property, "")).lower() == wanted
        ]
        record = candidates[0] if candidates else None
    else:
        record = await store.get(VENDOR, kind, object_id)
        if record is None:
            record = await _merged_into(store, kind, object_id)
    if record is None or bool(record.data.get("archived")) != archived:
        return None
    return record


async def _merged_into(store: Store, kind: str, object_id: str) -> Record | None:
    for record in await store.scan(VENDOR, kind):
        merged = str(record.data["properties"].get("hs_merged_object_ids") or "")
        if object_id in merged.split(";"):
            return record
    return None


async def _associations(
    store: Store, kind: str, object_id: str, wanted: list[str] | None
) -> dict[str, list[JsonObject]]:
    if not wanted:
        return {}
    targets = {object_type(name) for name in wanted}
    linked: dict[str, list[JsonObject]] = {}
    rows = await store.scan_matching(VENDOR, ASSOCIATIONS, {"fromType": kind, "fromId": object_id})
    for row in rows:
        to_type = row.data["toType"]
        if to_type not in targets:
            continue
        for association in row.data["types"]:
            type_id = association["associationTypeId"]
            linked.setdefault(to_type, []).append(
                {"id": row.data["toId"], "type": association_label(kind, to_type, type_id)}
            )
    return linked


async def _update(store: Store, kind: str, object_id: str, raw: Any) -> Record:
    changes = _properties(raw)
    read_only = sorted(READ_ONLY_PROPERTIES.intersection(changes))
    if read_only:
        raise hubspot_error(
            400,
            "VALIDATION_ERROR",
            f"Property values were not valid: {', '.join(read_only)} is a read only property",
        )
    record = await store.get(VENDOR, kind, object_id)
    if record is None or record.data.get("archived"):
        raise _not_found(kind, object_id)
    stamp = iso_ms(now())
    properties = {**record.data["properties"], **changes, MODIFIED_PROPERTY[kind]: stamp}
    updated = await store.put(
        VENDOR, kind, object_id, {**record.data, "properties": properties, "updatedAt": stamp}
    )
    await store.put(
        VENDOR,
        PROPERTY_UPDATES,
        str(uuid.uuid4()),
        {"objectType": kind, "objectId": object_id, "properties": changes, "updatedAt": stamp},
    )
    return updated


async def _refuse_duplicate_email(store: Store, email: str) -> None:
    existing = await _find(store, "contacts", email, id_property="email")
    if existing is not None:
        raise hubspot_error(409, "CONFLICT", f"Contact already exists. Existing ID: {existing.id}")


def _properties(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise hubspot_error(400, "VALIDATION_ERROR", "properties must be an object")
    return {str(name): property_text(value) for name, value in raw.items()}


def _inputs(body: JsonObject) -> list[JsonObject]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise hubspot_error(400, "VALIDATION_ERROR", "inputs must be an array of objects")
    if len(inputs) > MAX_BATCH:
        raise hubspot_error(
            400, "VALIDATION_ERROR", f"Batch size {len(inputs)} exceeds the limit of {MAX_BATCH}"
        )
    return inputs


def _association_specs(kind: str, raw: Any) -> list[tuple[str, str]]:
    """(target type, target id) for each `{"to": {"id"}, "types": [...]}` of a create."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise hubspot_error(400, "VALIDATION_ERROR", "associations must be an array")
    links: list[tuple[str, str]] = []
    for spec in raw:
        to = spec.get("to") if isinstance(spec, dict) else None
        types = spec.get("types") if isinstance(spec, dict) else None
        if not isinstance(to, dict) or "id" not in to or not isinstance(types, list) or not types:
            raise hubspot_error(
                400, "VALIDATION_ERROR", "each association needs to.id and a non-empty types"
            )
        for association in types:
            type_id = (
                association.get("associationTypeId") if isinstance(association, dict) else None
            )
            target = association_target(kind, type_id) if isinstance(type_id, int) else None
            if target is None:
                raise hubspot_error(
                    400,
                    "VALIDATION_ERROR",
                    f"One or more associations are invalid: association type {type_id} is not"
                    f" defined from {SINGULAR[kind]}",
                )
            links.append((target, str(to["id"])))
    return links


def _no_associations(from_type: str, from_id: str, to_type: str) -> JsonObject:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "message": f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {from_id}.",
        "context": {
            "fromObjectId": [from_id],
            "fromObjectType": [SINGULAR[from_type]],
            "toObjectType": [SINGULAR[to_type]],
        },
    }


def _not_found(kind: str, object_id: str) -> Exception:
    return hubspot_error(
        404,
        "OBJECT_NOT_FOUND",
        f"Object not found. objectId are usually numeric. ({SINGULAR[kind]} {object_id})",
    )
