"""HubSpot CRM objects as the sandbox stores and renders them.

A stored object is `{"properties": {name: str}, "archived", "createdAt", "updatedAt"}` in
collection `<object type>` (companies, contacts, deals, notes, tasks). Associations are records
of collection `associations`, one per direction, id `<from type>:<from id>:<to type>:<to id>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from sandbox.errors import hubspot_error

JsonObject = dict[str, Any]

VENDOR: Final = "hubspot"
ASSOCIATIONS = "associations"
OWNERS = "owners"
PROPERTY_UPDATES = "property_updates"

OBJECT_TYPES = ("companies", "contacts", "deals", "notes", "tasks")
_ALIASES = {
    "company": "companies",
    "contact": "contacts",
    "deal": "deals",
    "note": "notes",
    "task": "tasks",
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-46": "notes",
    "0-27": "tasks",
}
SINGULAR = {
    "companies": "company",
    "contacts": "contact",
    "deals": "deal",
    "notes": "note",
    "tasks": "task",
}

# What an object answers with when the request names no properties.
DEFAULT_PROPERTIES = {
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "tasks": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
# Returned whatever properties are asked for.
ALWAYS_PROPERTIES = {
    "companies": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "contacts": ("createdate", "lastmodifieddate", "hs_object_id"),
    "deals": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "tasks": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
CREATED_PROPERTY = {t: ALWAYS_PROPERTIES[t][0] for t in OBJECT_TYPES}
MODIFIED_PROPERTY = {t: ALWAYS_PROPERTIES[t][1] for t in OBJECT_TYPES}
READ_ONLY_PROPERTIES = frozenset(
    {"hs_object_id", "createdate", "hs_createdate", "hs_lastmodifieddate", "lastmodifieddate"}
)
# Free-text `query` of a search looks in these.
SEARCHABLE_PROPERTIES = {
    "companies": ("name", "domain", "website", "phone"),
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "deals": ("dealname",),
    "notes": ("hs_note_body",),
    "tasks": ("hs_task_subject", "hs_task_body"),
}
# Writes refused without these.
REQUIRED_ON_CREATE = {"notes": ("hs_timestamp",), "tasks": ("hs_timestamp",)}

# HubSpot-defined association type ids, by (from type, to type); the first is the default.
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], tuple[int, ...]] = {
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3,),
    ("contacts", "deals"): (4,),
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
    ("notes", "contacts"): (202,),
    ("contacts", "notes"): (201,),
    ("notes", "companies"): (190,),
    ("companies", "notes"): (189,),
    ("notes", "deals"): (214,),
    ("deals", "notes"): (213,),
    ("tasks", "contacts"): (204,),
    ("contacts", "tasks"): (203,),
    ("tasks", "companies"): (192,),
    ("companies", "tasks"): (191,),
    ("tasks", "deals"): (216,),
    ("deals", "tasks"): (215,),
}
_TYPE_ID_TARGETS = {
    (source, type_id): target
    for (source, target), ids in ASSOCIATION_TYPE_IDS.items()
    for type_id in ids
}
_PRIMARY_TYPE_IDS = frozenset({1, 2, 5, 6})


def object_type(name: str) -> str:
    """The collection for a path's object type (`companies`, `0-2`, `company`), or a 400."""
    resolved = name if name in OBJECT_TYPES else _ALIASES.get(name.lower())
    if resolved is None:
        raise hubspot_error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
    return resolved


def association_target(source: str, type_id: int) -> str | None:
    """The object type a HubSpot-defined association type id points at from `source`."""
    return _TYPE_ID_TARGETS.get((source, type_id))


def association_key(from_type: str, from_id: str, to_type: str, to_id: str) -> str:
    return f"{from_type}:{from_id}:{to_type}:{to_id}"


def association_data(from_type: str, from_id: str, to_type: str, to_id: str) -> JsonObject:
    return {
        "fromType": from_type,
        "fromId": from_id,
        "toType": to_type,
        "toId": to_id,
        "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
            for type_id in ASSOCIATION_TYPE_IDS.get((from_type, to_type), ())
        ],
    }


def association_label(from_type: str, to_type: str, type_id: int) -> str:
    """The `type` the v3 API reports: `company_to_contact`, or `…_unlabeled` for non-primary."""
    label = f"{SINGULAR.get(from_type, from_type)}_to_{SINGULAR.get(to_type, to_type)}"
    pair_ids = ASSOCIATION_TYPE_IDS.get((from_type, to_type), ())
    if len(pair_ids) > 1 and type_id not in _PRIMARY_TYPE_IDS:
        return f"{label}_unlabeled"
    return label


def association_types_v4(from_type: str, to_type: str, type_ids: Iterable[int]) -> list[JsonObject]:
    """An association's types as the v4 API reports them: the primary one labelled
    `Primary`, the others unlabelled (null)."""
    return [
        {
            "category": "HUBSPOT_DEFINED",
            "typeId": type_id,
            "label": "Primary"
            if len(ASSOCIATION_TYPE_IDS.get((from_type, to_type), ())) > 1
            and type_id in _PRIMARY_TYPE_IDS
            else None,
        }
        for type_id in type_ids
    ]


def split_names(values: Iterable[str] | None) -> list[str] | None:
    """Repeated query values, each possibly comma-separated (`properties=a,b&properties=c`)."""
    if values is None:
        return None
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return names or None


def render_properties(
    object_type: str, object_id: str, stored: Mapping[str, Any], requested: list[str] | None
) -> dict[str, str | None]:
    """The properties an answer carries: the requested ones (null when unset) plus the ones
    HubSpot always adds, or the type's defaults."""
    names = (
        DEFAULT_PROPERTIES[object_type]
        if requested is None
        else (*ALWAYS_PROPERTIES[object_type], *requested)
    )
    values = {**stored, "hs_object_id": object_id}
    rendered: dict[str, str | None] = {}
    for name in names:
        if requested is None and name not in values:
            continue
        value = values.get(name)
        rendered[name] = None if value is None else str(value)
    return rendered


def render_object(
    object_type: str,
    object_id: str,
    data: Mapping[str, Any],
    requested: list[str] | None,
    associations: Mapping[str, list[JsonObject]] | None = None,
) -> JsonObject:
    body: JsonObject = {
        "id": object_id,
        "properties": render_properties(object_type, object_id, data["properties"], requested),
        "createdAt": data["createdAt"],
        "updatedAt": data["updatedAt"],
        "archived": bool(data.get("archived", False)),
    }
    if data.get("archived"):
        body["archivedAt"] = data.get("archivedAt", data["updatedAt"])
    if associations:
        body["associations"] = {
            name: {"results": results} for name, results in associations.items() if results
        }
    return body


def new_object_data(
    object_type: str, object_id: str, properties: Mapping[str, str], stamp: str
) -> JsonObject:
    """A stored object as a create makes it: the properties plus the ones HubSpot sets."""
    values = {
        **properties,
        CREATED_PROPERTY[object_type]: stamp,
        MODIFIED_PROPERTY[object_type]: stamp,
        "hs_object_id": object_id,
    }
    return {"properties": values, "createdAt": stamp, "updatedAt": stamp, "archived": False}


def property_text(value: Any) -> str:
    """HubSpot stores every property value as a string; booleans as `true`/`false`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
