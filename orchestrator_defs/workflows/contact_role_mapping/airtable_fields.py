"""The Airtable records of a mapped contact: its Contacts record and its access checklist.

Field names and values only; the nodes in `writes.py` decide when to write them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from resources.enrichment.schemas import TitleInference

CONTACT_KEY_FIELD = "HubSpot ID"
CHECKLIST_KEY_FIELD = "Key"
STATUS_FIELD = "Status"
NEW_ITEM_STATUS = "To do"


def contact_fields(
    *,
    contact_id: str,
    name: str,
    properties: dict[str, str | None],
    inference: TitleInference,
    role: str,
    company_id: str | None,
    account_record_id: str | None,
    synced_at: datetime,
) -> dict[str, Any]:
    """The Contacts fields. "Account" links the Accounts record of the contact's company when
    that company is mirrored; "Company HubSpot ID" names the company either way."""
    fields: dict[str, Any] = {
        CONTACT_KEY_FIELD: contact_id,
        "Name": name,
        "Email": properties.get("email"),
        "Job title": properties.get("jobtitle"),
        "Normalised title": inference.normalized_title or None,
        "Function": inference.function.value,
        "Seniority": inference.seniority.value,
        "Role": role,
        "Confidence": round(min(inference.confidences().values()), 2),
        "Enricher": inference.enricher,
        "Company": properties.get("company"),
        "Company HubSpot ID": company_id,
        "HubSpot owner ID": properties.get("hubspot_owner_id"),
        "Last synced": synced_at.isoformat(),
    }
    if account_record_id is not None:
        fields["Account"] = [account_record_id]
    return fields


def checklist_key(contact_id: str, role: str, number: int) -> str:
    return f"{contact_id}:{role}:{number}"


def checklist_records(
    *,
    contact_id: str,
    name: str,
    role: str,
    items: tuple[str, ...],
    contact_record_id: str | None,
    existing_keys: set[str],
) -> list[dict[str, Any]]:
    """One record per checklist item. Only new items get a status: an item already there keeps
    the status an operator gave it."""
    records: list[dict[str, Any]] = []
    for number, item in enumerate(items, start=1):
        key = checklist_key(contact_id, role, number)
        record: dict[str, Any] = {
            CHECKLIST_KEY_FIELD: key,
            "Contact HubSpot ID": contact_id,
            "Contact name": name,
            "Role": role,
            "Item": item,
            "Item number": number,
        }
        if contact_record_id is not None:
            record["Contact"] = [contact_record_id]
        if key not in existing_keys:
            record[STATUS_FIELD] = NEW_ITEM_STATUS
        records.append(record)
    return records
