"""Notion through `notion-client`: SOP pages from a template page, link blocks, find by title.

A "template" is an ordinary Notion page whose blocks are copied into the new page (nested
blocks down to the two levels one create request accepts). The client's own retry is off;
requests are throttled to Notion's average of 3 per second and retried here.

Neither a page nor a block can be created idempotently in Notion, so what an earlier call may
have made is looked up instead. A page too long for one create request is made under a
provisional title carrying the caller's idempotency key, filled, and renamed to its title last:
`find_page_copy` adopts a page with the title (complete) and moves one still under a provisional
title of the key (half-copied) to the trash. `find_links` finds the bookmark blocks of a page by
their URLs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, SecretStr

from resources.connections import Connection
from resources.errors import (
    BadDataError,
    ConnectorError,
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
    from notion_client import Client

VENDOR = "notion"
CHILDREN_PER_REQUEST = 100
# Nesting one create/append request accepts: a block's children, and theirs.
_MAX_NESTING = 2
# Blocks that cannot be recreated through the API (or would duplicate other pages).
_UNCOPYABLE = frozenset(
    {"child_page", "child_database", "unsupported", "link_preview", "synced_block", "template"}
)
_FILE_TYPES = frozenset({"image", "file", "pdf", "video", "audio"})
_SEARCH_MAX_PAGES = 10
_IDEMPOTENCY_KEY = re.compile(r"[0-9a-f]{16,128}")
# What ends the title of a page being copied until its last block is in.
_IN_PROGRESS = " (copy in progress{ref})"
_IN_PROGRESS_KEY = re.compile(r" \(copy in progress ([0-9a-f]{16,128})\)$")


# The sandbox seed's "Sales SOPs" page (samples/hubspot_portal/notion.json): where SOP pages
# go when Notion is sandboxed and NOTION_SOP_PARENT_PAGE_ID is not set.
SANDBOX_SOP_PARENT_PAGE_ID = "1b2c3d4e-0000-4a00-8000-00000000a002"


class NotionPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    url: str | None = None
    parent_page_id: str | None = None
    archived: bool = False


class NotionLink(BaseModel):
    """A link to add to a page as a bookmark block, with an optional caption."""

    model_config = ConfigDict(frozen=True)

    url: str
    caption: str | None = None


class NotionConnector:
    """Notion pages and blocks with a throttle, timeouts, retries and typed errors."""

    def __init__(
        self,
        *,
        token: SecretStr | str,
        base_url: str,
        requests_per_second: int,
        timeouts: Timeouts,
        retry: RetryPolicy,
        mode: str = "live",
        sop_parent_page_id: str | None = None,
        shared_budget: SharedBudget | None = None,
        call_observer: CallObserver | None = None,
    ) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        if not secret.get_secret_value():
            raise ValueError("Notion token is empty")
        self._token = secret
        self.base_url = base_url.rstrip("/")
        self.mode = mode
        self.timeouts = timeouts
        # Where SOP pages go when the caller names no parent (NOTION_SOP_PARENT_PAGE_ID).
        self.sop_parent_page_id = sop_parent_page_id
        self.throttle = Throttle(
            "notion",
            [RateLimit(requests_per_second, 1.0)],
            vendor=VENDOR,
            shared=shared_budget,
            shared_key=f"notion {self.base_url}",
        )
        self._caller = ResilientCaller(
            vendor=VENDOR, policy=retry, classify=self._classify, observer=call_observer
        )

    @classmethod
    def from_connection(cls, connection: Connection, **options: Any) -> NotionConnector:
        if connection.credential is None:
            raise ValueError("Notion connection has no credential")
        if connection.mode == "sandbox" and not options.get("sop_parent_page_id"):
            options["sop_parent_page_id"] = SANDBOX_SOP_PARENT_PAGE_ID
        return cls(
            token=connection.credential,
            base_url=connection.base_url,
            mode=connection.mode,
            **options,
        )

    def __repr__(self) -> str:
        return f"NotionConnector(base_url={self.base_url!r}, mode={self.mode!r})"

    # -- pages ---------------------------------------------------------------------------

    def create_page_from_template(
        self,
        *,
        title: str,
        template_page_id: str | None = None,
        parent_page_id: str | None = None,
        extra_blocks: Sequence[Mapping[str, Any]] = (),
        idempotency_key: str | None = None,
    ) -> NotionPage:
        """A page titled `title` under the parent, with the template page's blocks copied in.

        `extra_blocks` (Notion block objects) follow the template's. Not idempotent: each call
        creates a page. Up to 100 blocks go in the create request itself, so the page appears
        whole. A longer page is created as `<title> (copy in progress <idempotency_key>)`,
        filled 100 blocks a request and renamed to `title` last: a page with the title is
        complete. `find_page_copy` finds what an earlier call with the key made.
        """
        if idempotency_key is not None:
            _check_key(idempotency_key)
        parent = parent_page_id or self.sop_parent_page_id
        if not parent:
            raise BadDataError(
                "notion create page: no parent page (set NOTION_SOP_PARENT_PAGE_ID)",
                vendor=VENDOR,
                operation="create page",
            )
        blocks: list[dict[str, Any]] = []
        if template_page_id:
            blocks.extend(self._copy_children(template_page_id, depth=0))
        blocks.extend(dict(block) for block in extra_blocks)
        first, rest = blocks[:CHILDREN_PER_REQUEST], blocks[CHILDREN_PER_REQUEST:]
        ref = f" {idempotency_key}" if idempotency_key else ""
        request: dict[str, Any] = {
            "parent": {"page_id": parent},
            "properties": _title_value(title + _IN_PROGRESS.format(ref=ref) if rest else title),
        }
        if first:
            request["children"] = first
        page = self._caller.call(
            "create page",
            lambda: self._client.pages.create(**request),
            throttles=(self.throttle,),
            write=True,
            idempotent=False,
        )
        created = _to_page(_mapping(page))
        if not rest:
            return created
        for chunk in chunked(rest, CHILDREN_PER_REQUEST):
            self._append(created.id, list(chunk))
        return self._rename(created.id, title)

    def find_page_copy(
        self, *, title: str, idempotency_key: str, parent_page_id: str | None = None
    ) -> NotionPage | None:
        """The complete page an earlier `create_page_from_template(title=title,
        idempotency_key=key)` made under the parent, or None.

        Lists the parent's child pages (`GET /v1/blocks/{parent}/children`, every page of it:
        unlike search, read-after-write consistent). The first child page titled `title` is
        complete and is returned (read whole for its URL). A child page still titled
        `... (copy in progress <key>)` was left half-copied: it is moved to the trash, never
        reused, so the caller copies the page again.
        """
        _check_key(idempotency_key)
        parent = parent_page_id or self.sop_parent_page_id
        if not parent:
            raise BadDataError(
                "notion find page: no parent page (set NOTION_SOP_PARENT_PAGE_ID)",
                vendor=VENDOR,
                operation="find page",
            )
        complete: str | None = None
        for block in self._children(parent):
            if block.get("type") != "child_page" or block.get("in_trash"):
                continue
            child_title = str((block.get("child_page") or {}).get("title") or "")
            in_progress = _IN_PROGRESS_KEY.search(child_title)
            if in_progress and in_progress.group(1) == idempotency_key:
                self._trash(str(block["id"]))
            elif child_title == title and complete is None:
                complete = str(block["id"])
        return self.get_page(page_id=complete) if complete else None

    def append_links(self, *, block_id: str, links: Sequence[NotionLink | str]) -> tuple[str, ...]:
        """Bookmark blocks for `links` at the end of a page or block; returns their ids."""
        blocks: list[dict[str, Any]] = []
        for link in links:
            item = NotionLink(url=link) if isinstance(link, str) else link
            bookmark: dict[str, Any] = {"url": item.url}
            if item.caption:
                bookmark["caption"] = [{"type": "text", "text": {"content": item.caption}}]
            blocks.append({"object": "block", "type": "bookmark", "bookmark": bookmark})
        ids: list[str] = []
        for chunk in chunked(blocks, CHILDREN_PER_REQUEST):
            ids.extend(self._append(block_id, list(chunk)))
        return tuple(ids)

    def find_links(self, *, block_id: str, urls: Sequence[str]) -> dict[str, str]:
        """The bookmark blocks among the children of a page or block whose URL is one of
        `urls`: URL -> id of the first such block (`GET /v1/blocks/{id}/children`, every
        page)."""
        wanted = set(urls)
        found: dict[str, str] = {}
        for block in self._children(block_id):
            if block.get("type") != "bookmark" or block.get("in_trash"):
                continue
            url = (block.get("bookmark") or {}).get("url")
            if url in wanted and url not in found:
                found[str(url)] = str(block["id"])
        return found

    def find_page_by_title(
        self, *, title: str, parent_page_id: str | None = None
    ) -> NotionPage | None:
        """The first page shared with the integration whose title is exactly `title`
        (and whose parent is `parent_page_id`, when given), or None."""
        wanted_parent = _plain_id(parent_page_id) if parent_page_id else None
        for page in self._search_pages(title):
            found = _to_page(page)
            if found.title != title or found.archived:
                continue
            if wanted_parent and _plain_id(found.parent_page_id or "") != wanted_parent:
                continue
            return found
        return None

    def get_page(self, *, page_id: str) -> NotionPage:
        page = self._caller.call(
            "get page",
            lambda: self._client.pages.retrieve(page_id=page_id),
            throttles=(self.throttle,),
        )
        return _to_page(_mapping(page))

    def close(self) -> None:
        client = self.__dict__.pop("_client", None)
        if client is not None:
            client.close()

    # -- internals -----------------------------------------------------------------------

    @cached_property
    def _client(self) -> Client:
        import httpx
        from notion_client import Client

        client = Client(
            auth=self._token.get_secret_value(),
            base_url=self.base_url,
            timeout_ms=int(self.timeouts.read * 1000),
            retry=False,  # retries are ours: throttled, typed, bounded
            logger=logging.getLogger("resources.notion.client"),
            log_level=logging.ERROR,  # failures are ours to report, typed
        )
        client.client.timeout = httpx.Timeout(self.timeouts.read, connect=self.timeouts.connect)
        return client

    def _append(self, block_id: str, children: list[dict[str, Any]]) -> list[str]:
        response = self._caller.call(
            "append blocks",
            lambda: self._client.blocks.children.append(block_id=block_id, children=children),
            throttles=(self.throttle,),
            write=True,
            idempotent=False,
        )
        results = response.get("results", []) if isinstance(response, Mapping) else []
        # The response lists the parent's children; the new ones are the last len(children).
        return [str(item["id"]) for item in results[-len(children) :] if "id" in item]

    def _rename(self, page_id: str, title: str) -> NotionPage:
        page = self._caller.call(
            "rename page",
            lambda: self._client.pages.update(page_id=page_id, properties=_title_value(title)),
            throttles=(self.throttle,),
            write=True,  # setting a title again changes nothing: idempotent
        )
        return _to_page(_mapping(page))

    def _trash(self, page_id: str) -> None:
        self._caller.call(
            "trash page",
            lambda: self._client.pages.update(page_id=page_id, in_trash=True),
            throttles=(self.throttle,),
            write=True,
        )

    def _children(self, block_id: str) -> Iterator[Mapping[str, Any]]:
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {"block_id": block_id, "page_size": CHILDREN_PER_REQUEST}
            if cursor:
                kwargs["start_cursor"] = cursor

            def list_children(kwargs: dict[str, Any] = kwargs) -> Any:
                return self._client.blocks.children.list(**kwargs)

            page = self._caller.call("list blocks", list_children, throttles=(self.throttle,))
            yield from page.get("results", [])
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    def _copy_children(self, block_id: str, *, depth: int) -> list[dict[str, Any]]:
        copies: list[dict[str, Any]] = []
        for block in self._children(block_id):
            copy = _copy_block(block)
            if copy is None:
                continue
            if block.get("has_children") and depth + 1 < _MAX_NESTING:
                nested = self._copy_children(str(block["id"]), depth=depth + 1)
                if nested:
                    copy[copy["type"]]["children"] = nested
            copies.append(copy)
        return copies

    def _search_pages(self, query: str) -> Iterator[Mapping[str, Any]]:
        cursor: str | None = None
        for _ in range(_SEARCH_MAX_PAGES):
            body: dict[str, Any] = {
                "query": query,
                "filter": {"property": "object", "value": "page"},
                "page_size": 100,
            }
            if cursor:
                body["start_cursor"] = cursor

            def search(body: dict[str, Any] = body) -> Any:
                return self._client.search(**body)

            page = self._caller.call("search", search, throttles=(self.throttle,))
            yield from page.get("results", [])
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    def _classify(self, exc: BaseException, operation: str, write: bool) -> ConnectorError | None:
        import httpx
        from notion_client.errors import (
            HTTPResponseError,
            InvalidPathParameterError,
            RequestTimeoutError,
        )

        secrets = (self._token.get_secret_value(),)
        if isinstance(exc, HTTPResponseError):
            payload: object = None
            try:
                import json

                payload = json.loads(exc.body) if exc.body else None
            except ValueError:
                payload = None
            reason, code = vendor_reason(payload, fallback=str(exc))
            retry_after = parse_retry_after(exc.headers.get("retry-after"))
            code = code or (str(exc.code) if exc.code else None)
            if exc.status == 409:
                # Notion's conflict_error is a transaction collision: retry the same request.
                return TransientConnectorError(
                    f"notion {operation} failed: HTTP 409 (conflict)",
                    vendor=VENDOR,
                    operation=operation,
                    status=409,
                    code=code,
                )
            return error_for_status(
                vendor=VENDOR,
                operation=operation,
                status=exc.status,
                reason=reason,
                code=code,
                retry_after=retry_after,
                secrets=secrets,
                is_write=write,
            )
        if isinstance(exc, RequestTimeoutError | httpx.TransportError):
            not_sent = request_not_sent(exc)
            return TransientConnectorError(
                f"notion {operation} failed: {type(exc).__name__}"
                + (" (not sent)" if not_sent else ""),
                vendor=VENDOR,
                operation=operation,
                may_have_applied=write and not not_sent,
            )
        if isinstance(exc, InvalidPathParameterError):
            return BadDataError(
                f"notion {operation}: invalid id", vendor=VENDOR, operation=operation
            )
        return None


def _check_key(idempotency_key: str) -> None:
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise ValueError("an idempotency key is 16 to 128 lowercase hex digits")


def _title_value(title: str) -> dict[str, Any]:
    """A page's `properties` with its title (the only property of a page under a page)."""
    return {"title": {"title": [{"type": "text", "text": {"content": title}}]}}


def _copy_block(block: Mapping[str, Any]) -> dict[str, Any] | None:
    """A block as a create request wants it, or None when it cannot be recreated."""
    block_type = block.get("type")
    if not isinstance(block_type, str) or block_type in _UNCOPYABLE:
        return None
    payload = block.get(block_type)
    if not isinstance(payload, Mapping):
        payload = {}
    if block_type in _FILE_TYPES and payload.get("type") == "file":
        return None  # Notion-hosted files have expiring URLs and cannot be re-attached
    copy = {key: _clean_value(value) for key, value in payload.items() if key != "children"}
    return {"object": "block", "type": block_type, block_type: copy}


def _clean_value(value: Any) -> Any:
    """Rich text as written, not as read: drop the read-only `plain_text` and `href`."""
    if isinstance(value, list):
        return [_clean_value(item) for item in value]
    if isinstance(value, Mapping):
        return {
            key: _clean_value(item)
            for key, item in value.items()
            if key not in ("plain_text", "href")
        }
    return value


def _to_page(page: Mapping[str, Any]) -> NotionPage:
    parent = page.get("parent") or {}
    return NotionPage(
        id=str(page["id"]),
        title=_title_of(page),
        url=page.get("url"),
        parent_page_id=parent.get("page_id") if isinstance(parent, Mapping) else None,
        archived=bool(page.get("archived") or page.get("in_trash")),
    )


def _title_of(page: Mapping[str, Any]) -> str:
    properties = page.get("properties") or {}
    for prop in properties.values() if isinstance(properties, Mapping) else ():
        if isinstance(prop, Mapping) and prop.get("type") == "title":
            return "".join(
                str(part.get("plain_text") or (part.get("text") or {}).get("content") or "")
                for part in prop.get("title") or []
                if isinstance(part, Mapping)
            )
    return ""


def _mapping(value: object) -> Mapping[str, Any]:
    """A sync client's response body (its endpoints are typed for the async client too)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"unexpected Notion response: {type(value).__name__}")
    return value


def _plain_id(notion_id: str) -> str:
    return notion_id.replace("-", "").lower()
