"""The seed: a realistic HubSpot portal plus the Google and Notion data around it.

Read from `samples/hubspot_portal/` (or the config's `seed_dir`):
- `owners.json`, `companies.json`, `contacts.json`, `deals.json`: HubSpot owners and objects;
  an object's `associations` (`{"companies": ["9001"]}`) become associations both ways.
- `google_calendars.json`: calendars with weekly busy patterns and absolute busy intervals.
- `google_drive.json`: folders and the templates that deal workflows copy.
- `notion.json`: pages (with fixed ids) and their blocks, in request form.
Airtable starts empty. The same files always give the same records, ids included.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandbox.state import NewRecord, Store
from sandbox.vendors import google_calendar, google_drive, hubspot_model, notion
from sandbox.vendors.notion_blocks import NewBlock, new_blocks, rich_text

JsonObject = dict[str, Any]

SEED_DIR = Path(__file__).resolve().parents[1] / "samples" / "hubspot_portal"
_HUBSPOT_FILES = {"companies": "companies.json", "contacts": "contacts.json", "deals": "deals.json"}
# Fixed timestamps for seeded Drive files and Notion pages, so a reset restores them exactly.
_SEED_STAMP = "2026-11-01T09:00:00.000Z"


def seed_records(seed_dir: Path | None = None) -> list[NewRecord]:
    folder = seed_dir or SEED_DIR
    return [*_hubspot(folder), *_google(folder), *_notion(folder)]


async def reseed(store: Store, seed_dir: Path | None = None) -> int:
    """Replace the whole sandbox state (and its request log) with the seed."""
    async with store.conn.transaction():
        return await store.replace_all(seed_records(seed_dir))


async def seed_if_empty(store: Store, seed_dir: Path | None = None) -> bool:
    async with store.conn.transaction():
        return await store.seed_if_empty(seed_records(seed_dir))


def _load(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text(encoding="utf-8"))


def _hubspot(folder: Path) -> Iterator[NewRecord]:
    vendor = hubspot_model.VENDOR
    for owner in _load(folder, "owners.json"):
        yield NewRecord(vendor, hubspot_model.OWNERS, str(owner["id"]), owner)
    links: set[tuple[str, str, str, str]] = set()
    for object_type, file_name in _HUBSPOT_FILES.items():
        for item in _load(folder, file_name):
            object_id = str(item["id"])
            data = {k: v for k, v in item.items() if k not in ("id", "associations")}
            yield NewRecord(vendor, object_type, object_id, data)
            for target_type, target_ids in item.get("associations", {}).items():
                for target_id in target_ids:
                    links.add((object_type, object_id, target_type, str(target_id)))
                    links.add((target_type, str(target_id), object_type, object_id))
    for from_type, from_id, to_type, to_id in sorted(links):
        yield NewRecord(
            vendor,
            hubspot_model.ASSOCIATIONS,
            hubspot_model.association_key(from_type, from_id, to_type, to_id),
            hubspot_model.association_data(from_type, from_id, to_type, to_id),
        )


def _google(folder: Path) -> Iterator[NewRecord]:
    for calendar in _load(folder, "google_calendars.json"):
        yield NewRecord("google", google_calendar.CALENDARS, calendar["id"], calendar)
    drive = _load(folder, "google_drive.json")
    for item in drive["files"]:
        file = google_drive.new_file(
            file_id=item["id"],
            name=item["name"],
            mime_type=item["mimeType"],
            parents=item["parents"],
            description=item.get("description"),
            owner=drive["owner"],
            stamp=_SEED_STAMP,
        )
        data = {"file": file, "copiedFrom": None, "template": item.get("template", False)}
        yield NewRecord("google", google_drive.FILES, item["id"], data)


def _notion(folder: Path) -> Iterator[NewRecord]:
    for item in _load(folder, "notion.json")["pages"]:
        title = rich_text([{"type": "text", "text": {"content": item["title"]}}], "seed.title")
        page = notion.new_page(page_id=item["id"], parent=item["parent"], title=title)
        page["created_time"] = page["last_edited_time"] = _SEED_STAMP
        yield NewRecord(notion.VENDOR, notion.PAGES, item["id"], page)
        blocks = new_blocks(item.get("children", []), f"seed.{item['id']}.children")
        _fix_ids(blocks, item["id"])
        for block_id, data in notion.block_rows(item["id"], "page_id", blocks):
            data["block"]["created_time"] = data["block"]["last_edited_time"] = _SEED_STAMP
            yield NewRecord(notion.VENDOR, notion.BLOCKS, block_id, data)


def _fix_ids(blocks: list[NewBlock], parent_id: str) -> None:
    """Block ids derived from their place, so every reset restores the same ids."""
    for index, block in enumerate(blocks):
        block.id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"notion-seed:{parent_id}:{index}"))
        _fix_ids(block.children, block.id)
