"""Notion API (Notion-Version 2025-09-03), the endpoints notion-client 3.x calls here.

- `GET /v1/users/me` (the integration's bot).
- `POST /v1/pages` under a parent page, with a title and optional `children` blocks.
- `GET|PATCH /v1/pages/{id}` (PATCH: title, `in_trash`/`archived`, icon, cover).
- `GET /v1/blocks/{id}`; `GET|PATCH /v1/blocks/{id}/children` (append ≤ 100, at the end:
  `after`/`position` are not supported). A page's children list its child pages too, as
  `child_page` blocks (id = the page's id, `child_page.title`), in creation order with its
  other blocks; trashed pages and blocks are left out, as Notion does.
- `POST /v1/search` by title; in 2025-09-03 the object filter takes `page` or `data_source`
  (the sandbox has no data sources, so `data_source` finds nothing) and `database` is refused.

Pages are stored as their answer objects in collection `pages`; blocks as
`{"block": <answer object>, "parentId": <page or block id>}` in collection `blocks`.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Query, Request

from sandbox.clock import iso_ms, now
from sandbox.deps import StoreDep
from sandbox.errors import notion_error
from sandbox.state import Record, Store
from sandbox.vendors.common import read_json
from sandbox.vendors.notion_blocks import (
    NewBlock,
    invalid,
    new_blocks,
    normalize_id,
    plain_text,
    rich_text,
)

JsonObject = dict[str, Any]

VENDOR: Final = "notion"
PAGES = "pages"
BLOCKS = "blocks"
# The integration's bot user, author of everything it creates.
BOT_USER = {"object": "user", "id": "6f3c2a8e-1b7d-4e59-9c0a-2d8f4b1e7a35"}
MAX_PAGE_SIZE = 100


async def require_version(notion_version: Annotated[str | None, Header()] = None) -> None:
    if not notion_version:
        raise notion_error(
            400,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined,"
            " instead was `undefined`.",
        )


router = APIRouter(tags=["notion"], dependencies=[Depends(require_version)])


@router.get("/v1/users/me")
async def me() -> JsonObject:
    """The integration's bot user."""
    return {
        **BOT_USER,
        "name": "Harbor Labs Orchestrator",
        "avatar_url": None,
        "type": "bot",
        "bot": {"owner": {"type": "workspace", "workspace": True}, "workspace_name": "Harbor Labs"},
    }


@router.post("/v1/pages")
async def create_page(request: Request, store: StoreDep) -> JsonObject:
    body = await read_json(request, VENDOR)
    parent_id = _parent_page_id(body.get("parent"))
    title = _title(body.get("properties"))
    children = new_blocks(body.get("children", []), "body.children")
    async with store.conn.transaction():
        if await _live_page(store, parent_id) is None:
            raise _page_not_found(parent_id)
        page = new_page(
            page_id=str(uuid.uuid4()),
            parent={"type": "page_id", "page_id": parent_id},
            title=title,
            icon=body.get("icon"),
            cover=body.get("cover"),
        )
        await store.put(VENDOR, PAGES, page["id"], page)
        await _store_blocks(store, page["id"], "page_id", children)
    return page


@router.get("/v1/pages/{page_id}")
async def get_page(page_id: str, store: StoreDep) -> JsonObject:
    page_id = normalize_id(page_id, "page_id")
    record = await store.get(VENDOR, PAGES, page_id)
    if record is None:
        raise _page_not_found(page_id)
    return record.data


@router.patch("/v1/pages/{page_id}")
async def update_page(page_id: str, request: Request, store: StoreDep) -> JsonObject:
    page_id = normalize_id(page_id, "page_id")
    body = await read_json(request, VENDOR)
    async with store.conn.transaction():
        record = await store.get(VENDOR, PAGES, page_id)
        if record is None:
            raise _page_not_found(page_id)
        page = dict(record.data)
        if "properties" in body:
            page["properties"] = _title_property(_title(body["properties"]))
        trashed = body.get("in_trash", body.get("archived"))
        if isinstance(trashed, bool):
            page["in_trash"] = page["archived"] = trashed
        for key in ("icon", "cover"):
            if key in body:
                page[key] = body[key]
        page["last_edited_time"] = iso_ms(now())
        await store.put(VENDOR, PAGES, page_id, page)
    return page


@router.get("/v1/blocks/{block_id}")
async def get_block(block_id: str, store: StoreDep) -> JsonObject:
    block_id = normalize_id(block_id, "block_id")
    block = await store.get(VENDOR, BLOCKS, block_id)
    if block is not None:
        answer: JsonObject = block.data["block"]
        return answer
    page = await store.get(VENDOR, PAGES, block_id)
    if page is None:
        raise _block_not_found(block_id)
    return await _page_as_block(store, page.data)


@router.get("/v1/blocks/{block_id}/children")
async def list_children(
    block_id: str,
    store: StoreDep,
    start_cursor: str | None = None,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
) -> JsonObject:
    block_id = normalize_id(block_id, "block_id")
    await _parent_kind(store, block_id)
    return _paginate(await _child_entries(store, block_id), start_cursor, page_size, "block")


@router.patch("/v1/blocks/{block_id}/children")
async def append_children(block_id: str, request: Request, store: StoreDep) -> JsonObject:
    block_id = normalize_id(block_id, "block_id")
    body = await read_json(request, VENDOR)
    children = new_blocks(body.get("children"), "body.children")
    async with store.conn.transaction():
        parent_kind = await _parent_kind(store, block_id)
        stored = await _store_blocks(store, block_id, parent_kind, children)
        await _touch(store, block_id, parent_kind)
    return {
        "object": "list",
        "results": stored,
        "next_cursor": None,
        "has_more": False,
        "type": "block",
        "block": {},
    }


@router.post("/v1/search")
async def search(request: Request, store: StoreDep) -> JsonObject:
    body = await read_json(request, VENDOR)
    query = str(body.get("query") or "").strip().lower()
    wanted = _search_filter(body.get("filter"))
    page_size = body.get("page_size", MAX_PAGE_SIZE)
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise invalid(f"body.page_size should be ≤ `{MAX_PAGE_SIZE}`, instead was `{page_size}`.")
    results: list[JsonObject] = []
    if wanted in (None, "page"):
        results = [
            r.data
            for r in await store.scan(VENDOR, PAGES)
            if not r.data["in_trash"] and query in page_title(r.data).lower()
        ]
    sort = body.get("sort") or {}
    ascending = isinstance(sort, dict) and sort.get("direction") == "ascending"
    results.sort(key=lambda page: str(page["last_edited_time"]), reverse=not ascending)
    return _paginate(results, body.get("start_cursor"), page_size, "page_or_data_source")


def new_page(
    *,
    page_id: str,
    parent: JsonObject,
    title: list[JsonObject],
    icon: Any = None,
    cover: Any = None,
) -> JsonObject:
    """A page object as Notion answers it (also what the seed stores)."""
    stamp = iso_ms(now())
    return {
        "object": "page",
        "id": page_id,
        "created_time": stamp,
        "last_edited_time": stamp,
        "created_by": BOT_USER,
        "last_edited_by": BOT_USER,
        "cover": cover,
        "icon": icon,
        "parent": parent,
        "archived": False,
        "in_trash": False,
        "is_locked": False,
        "properties": _title_property(title),
        "url": page_url(page_id, plain_text(title)),
        "public_url": None,
    }


def page_title(page: JsonObject) -> str:
    prop = page.get("properties", {}).get("title", {})
    return plain_text(prop.get("title", []))


def page_url(page_id: str, title: str) -> str:
    slug = "-".join(re.findall(r"[A-Za-z0-9]+", title))
    compact = page_id.replace("-", "")
    return f"https://www.notion.so/{slug}-{compact}" if slug else f"https://www.notion.so/{compact}"


async def _store_blocks(
    store: Store, parent_id: str, parent_kind: str, blocks: list[NewBlock]
) -> list[JsonObject]:
    """Store blocks (and their nested children); the top-level answers, in order."""
    rows = block_rows(parent_id, parent_kind, blocks)
    for block_id, data in rows:
        await store.put(VENDOR, BLOCKS, block_id, data)
    top = {block.id for block in blocks}
    return [data["block"] for block_id, data in rows if block_id in top]


def block_rows(
    parent_id: str, parent_kind: str, blocks: list[NewBlock]
) -> list[tuple[str, JsonObject]]:
    """(id, stored data) for blocks and their nested children, parents before children."""
    stamp = iso_ms(now())
    rows: list[tuple[str, JsonObject]] = []
    for block in blocks:
        answer: JsonObject = {
            "object": "block",
            "id": block.id,
            "parent": {"type": parent_kind, parent_kind: parent_id},
            "created_time": stamp,
            "last_edited_time": stamp,
            "created_by": BOT_USER,
            "last_edited_by": BOT_USER,
            "has_children": bool(block.children),
            "archived": False,
            "in_trash": False,
            **block.body,
        }
        rows.append((block.id, {"block": answer, "parentId": parent_id}))
        rows.extend(block_rows(block.id, "block_id", block.children))
    return rows


async def _children(store: Store, parent_id: str) -> list[Record]:
    rows = await store.scan_matching(VENDOR, BLOCKS, {"parentId": parent_id})
    return [r for r in rows if not r.data["block"].get("in_trash")]


async def _child_pages(store: Store, parent_id: str) -> list[Record]:
    rows = await store.scan_matching(VENDOR, PAGES, {"parent": {"page_id": parent_id}})
    return [r for r in rows if not r.data["in_trash"]]


async def _child_entries(store: Store, parent_id: str) -> list[JsonObject]:
    """What `GET /v1/blocks/{id}/children` lists: the blocks and the child pages (as
    `child_page` blocks) under `parent_id`, oldest first."""
    rows = [(r.created_at, r.data["block"]) for r in await _children(store, parent_id)]
    for page in await _child_pages(store, parent_id):
        rows.append((page.created_at, await _page_as_block(store, page.data)))
    rows.sort(key=lambda row: row[0])  # stable: blocks before pages of the same instant
    return [entry for _, entry in rows]


async def _page_as_block(store: Store, page: JsonObject) -> JsonObject:
    """A page seen as a block: a `child_page` block with the page's id and title."""
    has_children = bool(await _children(store, page["id"])) or bool(
        await _child_pages(store, page["id"])
    )
    return {
        "object": "block",
        "id": page["id"],
        "parent": page["parent"],
        "created_time": page["created_time"],
        "last_edited_time": page["last_edited_time"],
        "created_by": BOT_USER,
        "last_edited_by": BOT_USER,
        "has_children": has_children,
        "archived": page["archived"],
        "in_trash": page["in_trash"],
        "type": "child_page",
        "child_page": {"title": page_title(page)},
    }


async def _parent_kind(store: Store, block_id: str) -> str:
    """`page_id` or `block_id`, the parent type children of `block_id` will carry."""
    if await _live_page(store, block_id) is not None:
        return "page_id"
    if await store.get(VENDOR, BLOCKS, block_id) is not None:
        return "block_id"
    raise _block_not_found(block_id)


async def _touch(store: Store, block_id: str, parent_kind: str) -> None:
    stamp = iso_ms(now())
    if parent_kind == "page_id":
        page = await store.get(VENDOR, PAGES, block_id)
        if page is not None:
            await store.put(VENDOR, PAGES, block_id, {**page.data, "last_edited_time": stamp})
        return
    block = await store.get(VENDOR, BLOCKS, block_id)
    if block is not None:
        answer = {**block.data["block"], "has_children": True, "last_edited_time": stamp}
        await store.put(VENDOR, BLOCKS, block_id, {**block.data, "block": answer})


async def _live_page(store: Store, page_id: str) -> Record | None:
    page = await store.get(VENDOR, PAGES, page_id)
    return page if page is not None and not page.data["in_trash"] else None


def _paginate(items: list[JsonObject], cursor: Any, size: int, kind: str) -> JsonObject:
    start = 0
    if cursor:
        ids = [str(item["id"]) for item in items]
        if cursor not in ids:
            raise invalid(f"body.start_cursor should be a valid cursor, instead was `{cursor}`.")
        start = ids.index(cursor)
    page = items[start : start + size]
    more = start + size < len(items)
    return {
        "object": "list",
        "results": page,
        "next_cursor": items[start + size]["id"] if more else None,
        "has_more": more,
        "type": kind,
        kind: {},
    }


def _parent_page_id(parent: Any) -> str:
    if not isinstance(parent, dict):
        raise invalid("body.parent should be an object, instead was `undefined`.")
    if "page_id" in parent:
        return normalize_id(str(parent["page_id"]), "parent.page_id")
    for key in ("data_source_id", "database_id"):
        if key in parent:
            # The sandbox has no databases or data sources.
            raise notion_error(
                404,
                "object_not_found",
                f"Could not find {key.removesuffix('_id').replace('_', ' ')} with ID:"
                f" {parent[key]}. Make sure the relevant pages and databases are shared with"
                " your integration.",
            )
    raise invalid("body.parent.page_id should be defined, instead was `undefined`.")


def _title(properties: Any) -> list[JsonObject]:
    """The title of a page under a page: its only allowed property, in either request form."""
    if not isinstance(properties, dict) or not properties:
        raise invalid("body.properties.title should be defined, instead was `undefined`.")
    if len(properties) > 1:
        raise invalid(
            "Invalid property for a page whose parent is a page: only `title` can be set."
        )
    value = next(iter(properties.values()))
    items = value.get("title") if isinstance(value, dict) else value
    return rich_text(items, "body.properties.title.title")


def _title_property(title: list[JsonObject]) -> JsonObject:
    return {"title": {"id": "title", "type": "title", "title": title}}


def _search_filter(raw: Any) -> str | None:
    if raw is None:
        return None
    value = raw.get("value") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or raw.get("property") != "object":
        raise invalid('body.filter.property should be `"object"`, instead was `undefined`.')
    if value not in ("page", "data_source"):
        raise invalid(
            f'body.filter.value should be `"page"` or `"data_source"`, instead was `"{value}"`.'
        )
    return str(value)


def _page_not_found(page_id: str) -> Exception:
    return notion_error(
        404,
        "object_not_found",
        f"Could not find page with ID: {page_id}. Make sure the relevant pages and databases"
        " are shared with your integration.",
    )


def _block_not_found(block_id: str) -> Exception:
    return notion_error(
        404,
        "object_not_found",
        f"Could not find block with ID: {block_id}. Make sure the relevant pages and databases"
        " are shared with your integration.",
    )
