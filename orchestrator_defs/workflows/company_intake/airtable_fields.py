"""The Airtable Accounts record of a company: field names and values, nothing else.

Fields left empty are sent as null on purpose: the record mirrors HubSpot, so a value removed
there is cleared here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from resources.enrichment.schemas import CompanyEnrichment

KEY_FIELD = "HubSpot ID"


def account_fields(
    *,
    company_id: str,
    properties: Mapping[str, str | None],
    enrichment: CompanyEnrichment,
    associations: Mapping[str, list[str]],
    type_property: str,
    lifecycle_property: str,
    warnings: list[str],
    synced_at: datetime,
) -> dict[str, Any]:
    """The Accounts fields for a company (without the SOP link, which `sop_link_fields` adds)."""
    return {
        KEY_FIELD: company_id,
        "Name": enrichment.name,
        "Legal form": enrichment.legal_suffix,
        "HubSpot name": properties.get("name"),
        "Domain": enrichment.domain,
        "Website": properties.get("website"),
        "Industry": enrichment.industry.value,
        "HubSpot industry": properties.get("industry"),
        "Size band": enrichment.size_band.value,
        "Annual revenue": _number(properties.get("annualrevenue")),
        "Company type": enrichment.company_type.value,
        "HubSpot type": properties.get(type_property),
        "Lifecycle stage": properties.get(lifecycle_property),
        "Country": properties.get("country"),
        "City": properties.get("city"),
        "HubSpot owner ID": properties.get("hubspot_owner_id"),
        "Contacts": len(associations.get("contacts", [])),
        "Deals": len(associations.get("deals", [])),
        "Enricher": enrichment.enricher,
        "Needs review": enrichment.needs_review,
        "Review reasons": "; ".join(enrichment.review_reasons) or None,
        "Data warnings": "\n".join(warnings) or None,
        "Last synced": synced_at.isoformat(),
    }


def sop_link_fields(
    *, company_id: str, page_url: str | None, page_id: str, template_title: str
) -> dict[str, Any]:
    """The fields linking an Accounts record to the company's Notion SOP page."""
    return {
        KEY_FIELD: company_id,
        "SOP page": page_url,
        "SOP page ID": page_id,
        "SOP template": template_title,
    }


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
