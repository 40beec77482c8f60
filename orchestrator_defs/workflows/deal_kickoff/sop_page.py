"""Which Notion page a company's Airtable Accounts record names as its SOP page: pure, no I/O.

`link_sop_page` links the scheduled kickoff there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Accounts fields naming the company's SOP page: company intake writes "SOP page ID" and
# "SOP page" (the URL); the others are spellings a person editing the base might use. A page id
# or a Notion URL (whose last 32 hex digits are the page id) both work.
ACCOUNT_SOP_FIELDS = ("SOP page ID", "SOP page", "SOP page id", "SOP page URL", "Notion SOP page")

_NOTION_ID = re.compile(
    r"([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})", re.I
)


def sop_page_id(account_fields: Mapping[str, Any]) -> str | None:
    """The Notion page id in the first of `ACCOUNT_SOP_FIELDS` that holds one, or None."""
    for field in ACCOUNT_SOP_FIELDS:
        value = account_fields.get(field)
        if isinstance(value, str) and (page_id := notion_page_id(value)):
            return page_id
    return None


def notion_page_id(text: str) -> str | None:
    """The page id in a Notion id or URL (the last 32 hex digits), dashed, or None."""
    matches = _NOTION_ID.findall(text)
    if not matches:
        return None
    return "-".join(matches[-1]).lower()
