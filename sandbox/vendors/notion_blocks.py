"""Notion rich text and blocks: what a request may carry and how Notion answers with them.

Requests send short forms (`{"text": {"content": "Hi"}}`); Notion answers with full objects
(`type`, `annotations`, `plain_text`, `href`). Limits enforced as Notion does: 2,000 characters
per text object, 100 rich text objects per array, 100 blocks per children array.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import notion_error

JsonObject = dict[str, Any]

MAX_TEXT_LENGTH = 2000
MAX_RICH_TEXT_ITEMS = 100
MAX_CHILDREN = 100

_ANNOTATIONS: JsonObject = {
    "bold": False,
    "italic": False,
    "strikethrough": False,
    "underline": False,
    "code": False,
    "color": "default",
}
# Block types with a `rich_text` array, and the other block types accepted.
TEXT_BLOCKS = frozenset(
    {
        "paragraph",
        "heading_1",
        "heading_2",
        "heading_3",
        "bulleted_list_item",
        "numbered_list_item",
        "to_do",
        "toggle",
        "quote",
        "callout",
        "code",
    }
)
OTHER_BLOCKS = frozenset(
    {"divider", "bookmark", "embed", "table_of_contents", "breadcrumb", "link_to_page", "image"}
)


@dataclass
class NewBlock:
    """A block to store: its answer form and the blocks nested under it."""

    id: str
    body: JsonObject
    children: list[NewBlock] = field(default_factory=list)


def invalid(message: str) -> Exception:
    return notion_error(400, "validation_error", message)


def normalize_id(raw: str, what: str) -> str:
    """Notion takes ids with or without dashes and answers with dashes."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise invalid(
            f"path failed validation: path.{what} should be a valid uuid, instead was `{raw!r}`."
        ) from None


def rich_text(items: Any, where: str) -> list[JsonObject]:
    if not isinstance(items, list):
        raise invalid(f"{where} should be an array, instead was `{items!r}`.")
    if len(items) > MAX_RICH_TEXT_ITEMS:
        raise invalid(
            f"{where}.length should be ≤ `{MAX_RICH_TEXT_ITEMS}`, instead was `{len(items)}`."
        )
    return [_rich_text_item(item, f"{where}[{i}]") for i, item in enumerate(items)]


def plain_text(items: list[JsonObject]) -> str:
    return "".join(str(item.get("plain_text", "")) for item in items)


def new_blocks(children: Any, where: str, *, depth: int = 0) -> list[NewBlock]:
    """Validate a children array; nested `children` (two levels, as Notion allows) come along."""
    if not isinstance(children, list):
        raise invalid(f"{where} should be an array, instead was `{children!r}`.")
    if len(children) > MAX_CHILDREN:
        raise invalid(
            f"{where}.length should be ≤ `{MAX_CHILDREN}`, instead was `{len(children)}`."
        )
    return [_new_block(child, f"{where}[{i}]", depth) for i, child in enumerate(children)]


def _new_block(raw: Any, where: str, depth: int) -> NewBlock:
    if not isinstance(raw, dict):
        raise invalid(f"{where} should be an object, instead was `{raw!r}`.")
    kind = raw.get("type") or next((k for k in raw if k in TEXT_BLOCKS | OTHER_BLOCKS), None)
    if kind not in TEXT_BLOCKS | OTHER_BLOCKS:
        raise invalid(f"{where}.type should be a supported block type, instead was `{kind!r}`.")
    content = raw.get(kind)
    if not isinstance(content, dict):
        raise invalid(f"{where}.{kind} should be defined, instead was `undefined`.")
    content = dict(content)
    nested_raw = content.pop("children", None)
    if kind in TEXT_BLOCKS:
        content["rich_text"] = rich_text(content.get("rich_text", []), f"{where}.{kind}.rich_text")
        content.setdefault("color", "default")
        if kind == "to_do":
            content["checked"] = bool(content.get("checked", False))
        if kind == "code":
            content.setdefault("language", "plain text")
            content.setdefault("caption", [])
    elif kind in ("bookmark", "embed"):
        if not isinstance(content.get("url"), str):
            raise invalid(f"{where}.{kind}.url should be a string, instead was `undefined`.")
        content["caption"] = rich_text(content.get("caption", []), f"{where}.{kind}.caption")
    nested: list[NewBlock] = []
    if nested_raw is not None:
        if depth >= 1:
            raise invalid(f"{where}.{kind}.children: nesting is limited to two levels per request.")
        nested = new_blocks(nested_raw, f"{where}.{kind}.children", depth=depth + 1)
    body: JsonObject = {"type": kind, kind: content}
    return NewBlock(id=str(uuid.uuid4()), body=body, children=nested)


def _rich_text_item(item: Any, where: str) -> JsonObject:
    if not isinstance(item, dict):
        raise invalid(f"{where} should be an object, instead was `{item!r}`.")
    kind = item.get("type") or ("text" if "text" in item else None)
    annotations = {**_ANNOTATIONS, **(item.get("annotations") or {})}
    if kind != "text":
        # Mentions and equations pass through; their plain text is whatever the caller gave.
        return {**item, "annotations": annotations, "plain_text": item.get("plain_text", "")}
    text = item.get("text")
    if not isinstance(text, Mapping) or not isinstance(text.get("content"), str):
        raise invalid(f"{where}.text.content should be a string, instead was `undefined`.")
    content = text["content"]
    if len(content) > MAX_TEXT_LENGTH:
        raise invalid(
            f"{where}.text.content.length should be ≤ `{MAX_TEXT_LENGTH}`,"
            f" instead was `{len(content)}`."
        )
    link = text.get("link")
    href = link.get("url") if isinstance(link, Mapping) else None
    return {
        "type": "text",
        "text": {"content": content, "link": {"url": href} if href else None},
        "annotations": annotations,
        "plain_text": content,
        "href": href,
    }
