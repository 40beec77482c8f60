"""Google Drive v3: get a file, list files by a query, copy a file (the seeded templates),
share it.

`fields` selects top-level fields as Drive does (`id,name,webViewLink`, `*`; a list's
`files(id,name)` selects within each file); without it a file answers `kind,id,name,mimeType`
and a permission `kind,id,type,role`.

`files.list` takes the query subset of `google_drive_query.py` (`appProperties has {key=... and
value=...}`, `trashed`, `in parents`, `name`, `mimeType`), `pageSize` (≤ 1000, default 100) and
`pageToken`; `corpora`, `spaces` and the shared-drive flags are accepted, every file being in
one drive here. A copy keeps the `appProperties` and `properties` its request names (at most
124 bytes of UTF-8 per key and value together, as Drive allows).

Collections: `files` (`{"file": <resource>, "copiedFrom": <source id or null>}`) and
`permissions` (`<fileId>/<permissionId>`: `{"fileId", "permission", "sendNotificationEmail",
"emailMessage"}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request

from sandbox.clock import iso_ms, now
from sandbox.deps import StoreDep
from sandbox.errors import google_error
from sandbox.state import Store
from sandbox.vendors.common import random_id, read_json
from sandbox.vendors.google_drive_query import parse_query

JsonObject = dict[str, Any]

VENDOR: Final = "google"
FILES = "files"
PERMISSIONS = "permissions"
FOLDER = "application/vnd.google-apps.folder"

_DEFAULT_FILE_FIELDS = ("kind", "id", "name", "mimeType")
_DEFAULT_LIST_FIELDS = ("kind", "incompleteSearch", "nextPageToken", "files")
_MAX_LIST_PAGE = 1000
_MAX_PROPERTY_BYTES = 124
_CORPORA = frozenset({"user", "domain", "drive", "allDrives"})
_DEFAULT_PERMISSION_FIELDS = ("kind", "id", "type", "role")
_ROLES = frozenset({"owner", "organizer", "fileOrganizer", "writer", "commenter", "reader"})
_TYPES = frozenset({"user", "group", "domain", "anyone"})
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VIEW_LINKS = {
    "application/vnd.google-apps.document": "https://docs.google.com/document/d/{id}/edit?usp=drivesdk",
    "application/vnd.google-apps.spreadsheet": "https://docs.google.com/spreadsheets/d/{id}/edit?usp=drivesdk",
    "application/vnd.google-apps.presentation": "https://docs.google.com/presentation/d/{id}/edit?usp=drivesdk",
    FOLDER: "https://drive.google.com/drive/folders/{id}",
}

router = APIRouter(tags=["google-drive"])

FieldsQuery = Annotated[str | None, Query()]


@router.get("/drive/v3/files")
async def list_files(
    store: StoreDep,
    q: str | None = None,
    fields: FieldsQuery = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=_MAX_LIST_PAGE)] = 100,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
    corpora: str | None = None,
) -> JsonObject:
    if corpora is not None and corpora not in _CORPORA:
        raise google_error(400, "invalid", f"Invalid Value: {corpora}", location="corpora")
    matches = parse_query(q) if q and q.strip() else None
    files = [
        record.data["file"]
        for record in await store.scan(VENDOR, FILES)
        if matches is None or matches(record.data["file"])
    ]
    if page_token is not None and not page_token.isdigit():
        raise google_error(400, "invalid", "Invalid Value", location="pageToken")
    start = int(page_token) if page_token else 0
    page = files[start : start + page_size]
    answer: JsonObject = {"kind": "drive#fileList", "incompleteSearch": False}
    if start + page_size < len(files):
        answer["nextPageToken"] = str(start + page_size)
    # Each file: the selection inside `files(...)`; all of it for `files` or `*`; else default.
    inner = None
    if fields is not None:
        inner = _nested(fields, "files")
        if inner is None and (fields.strip() == "*" or "files" in _top_level(fields)):
            inner = "*"
    answer["files"] = [select_fields(file, inner, _DEFAULT_FILE_FIELDS) for file in page]
    if fields is not None and fields.strip() != "*":
        answer = select_fields(answer, fields, _DEFAULT_LIST_FIELDS)
    return answer


@router.get("/drive/v3/files/{file_id}")
async def get_file(file_id: str, store: StoreDep, fields: FieldsQuery = None) -> JsonObject:
    record = await store.get(VENDOR, FILES, file_id)
    if record is None:
        raise _file_not_found(file_id)
    return select_fields(record.data["file"], fields, _DEFAULT_FILE_FIELDS)


@router.post("/drive/v3/files/{file_id}/copy")
async def copy_file(
    file_id: str, request: Request, store: StoreDep, fields: FieldsQuery = None
) -> JsonObject:
    body = await read_json(request, VENDOR)
    source = await store.get(VENDOR, FILES, file_id)
    if source is None:
        raise _file_not_found(file_id)
    original: JsonObject = source.data["file"]
    if original["mimeType"] == FOLDER:
        raise google_error(403, "cannotCopyFile", "This file cannot be copied by the user.")
    parents = body.get("parents", original.get("parents", []))
    if not isinstance(parents, list):
        raise google_error(400, "invalid", "Invalid Value", location="parents")
    for parent in parents:
        if await store.get(VENDOR, FILES, str(parent)) is None:
            raise _file_not_found(str(parent))
    copy = new_file(
        file_id=random_id(33, _ID_ALPHABET),
        name=str(body.get("name") or f"Copy of {original['name']}"),
        mime_type=original["mimeType"],
        parents=[str(p) for p in parents],
        description=body.get("description", original.get("description")),
        owner=original["owners"][0],
    )
    for name in ("properties", "appProperties"):
        if name in body:
            copy[name] = _custom_properties(body[name], name)
    await store.put(VENDOR, FILES, copy["id"], {"file": copy, "copiedFrom": file_id})
    return select_fields(copy, fields, _DEFAULT_FILE_FIELDS)


@router.post("/drive/v3/files/{file_id}/permissions")
async def create_permission(
    file_id: str,
    request: Request,
    store: StoreDep,
    fields: FieldsQuery = None,
    send_notification_email: Annotated[bool | None, Query(alias="sendNotificationEmail")] = None,
    email_message: Annotated[str | None, Query(alias="emailMessage")] = None,
    transfer_ownership: Annotated[bool, Query(alias="transferOwnership")] = False,
) -> JsonObject:
    body = await read_json(request, VENDOR)
    if await store.get(VENDOR, FILES, file_id) is None:
        raise _file_not_found(file_id)
    role, kind = body.get("role"), body.get("type")
    if role not in _ROLES:
        raise google_error(
            400, "invalid", "The permission role field is required.", location="role"
        )
    if kind not in _TYPES:
        raise google_error(
            400, "invalid", "The permission type field is required.", location="type"
        )
    email = body.get("emailAddress")
    if kind in ("user", "group") and not isinstance(email, str):
        raise google_error(
            400,
            "invalid",
            "The permission emailAddress field is required for this type.",
            location="emailAddress",
        )
    if role == "owner" and not transfer_ownership:
        raise google_error(
            403,
            "consentRequiredForOwnershipTransfer",
            "Consent is required to transfer ownership of a file to another user.",
        )
    permission = await _upsert_permission(
        store,
        file_id,
        body,
        notify=kind in ("user", "group")
        if send_notification_email is None
        else send_notification_email,
        email_message=email_message,
    )
    return select_fields(permission, fields, _DEFAULT_PERMISSION_FIELDS)


def new_file(
    *,
    file_id: str,
    name: str,
    mime_type: str,
    parents: list[str],
    description: str | None,
    owner: Mapping[str, Any],
    stamp: str | None = None,
) -> JsonObject:
    """A file resource with every field the sandbox knows (`fields=*`)."""
    stamp = stamp or iso_ms(now())
    link = _VIEW_LINKS.get(mime_type, "https://drive.google.com/file/d/{id}/view?usp=drivesdk")
    file: JsonObject = {
        "kind": "drive#file",
        "id": file_id,
        "name": name,
        "mimeType": mime_type,
        "parents": parents,
        "createdTime": stamp,
        "modifiedTime": stamp,
        "webViewLink": link.format(id=file_id),
        "owners": [dict(owner)],
        "trashed": False,
    }
    if description:
        file["description"] = description
    return file


def select_fields(
    resource: Mapping[str, Any], fields: str | None, default: tuple[str, ...]
) -> JsonObject:
    """Drive's partial response: top-level names from `fields` (nested selections kept whole)."""
    if fields is None:
        names: list[str] = list(default)
    elif fields.strip() == "*":
        return dict(resource)
    else:
        names = _top_level(fields)
    return {name: resource[name] for name in names if name in resource}


async def _upsert_permission(
    store: Store, file_id: str, body: Mapping[str, Any], *, notify: bool, email_message: str | None
) -> JsonObject:
    kind = body["type"]
    email = body.get("emailAddress")
    existing = [
        r
        for r in await store.scan_matching(VENDOR, PERMISSIONS, {"fileId": file_id})
        if r.data["permission"]["type"] == kind
        and r.data["permission"].get("emailAddress") == email
        and r.data["permission"].get("domain") == body.get("domain")
    ]
    if existing:
        permission_id = existing[0].data["permission"]["id"]
    elif kind == "anyone":
        permission_id = "anyoneWithLink"
    else:
        permission_id = random_id(20, "0123456789")
    permission: JsonObject = {
        "kind": "drive#permission",
        "id": permission_id,
        "type": kind,
        "role": body["role"],
    }
    for key in ("emailAddress", "domain", "allowFileDiscovery", "expirationTime"):
        if key in body:
            permission[key] = body[key]
    await store.put(
        VENDOR,
        PERMISSIONS,
        f"{file_id}/{permission_id}",
        {
            "fileId": file_id,
            "permission": permission,
            "sendNotificationEmail": notify,
            "emailMessage": email_message,
        },
    )
    return permission


def _custom_properties(raw: Any, name: str) -> dict[str, str]:
    """`properties` / `appProperties` of a request: string keys and values, each pair at most
    124 bytes of UTF-8."""
    if not isinstance(raw, dict):
        raise google_error(400, "invalid", "Invalid Value", location=name)
    values: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise google_error(400, "invalid", "Invalid Value", location=f"{name}.{key}")
        if len(key.encode()) + len(value.encode()) > _MAX_PROPERTY_BYTES:
            raise google_error(
                400,
                "invalid",
                f"The limit of {_MAX_PROPERTY_BYTES} bytes per property (key and value) was"
                f" exceeded: {key}",
                location=f"{name}.{key}",
            )
        values[str(key)] = value
    return values


def _nested(fields: str, name: str) -> str | None:
    """The selection inside `name(...)` of a `fields` value, or None when `name` is selected
    whole (or not at all)."""
    start = fields.find(f"{name}(")
    if start < 0:
        return None
    depth, begin = 0, start + len(name)
    for index in range(begin, len(fields)):
        if fields[index] == "(":
            depth += 1
        elif fields[index] == ")":
            depth -= 1
            if depth == 0:
                return fields[begin + 1 : index]
    return None


def _top_level(fields: str) -> list[str]:
    names, depth, current = [], 0, ""
    for char in fields:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            names.append(current.strip())
            current = ""
            continue
        if depth == 0 and char not in "()":
            current += char
    names.append(current.strip())
    return [name.split("/")[0] for name in names if name]


def _file_not_found(file_id: str) -> Exception:
    return google_error(
        404, "notFound", f"File not found: {file_id}.", location="fileId", location_type="parameter"
    )
