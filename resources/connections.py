"""Where each connector connects, and the connectors' own options from `Settings`.

Live or sandbox, base URL and credential are resolved in `orchestrator_core.vendor_connections`
(re-exported here; the API's health checks use it without the connectors). Here: each
connector's keyword arguments (`connector_options`), timeouts and retry bounds, for the Dagster
resources, `orchestrator doctor`, the tests and the bench.
"""

from __future__ import annotations

from typing import Any

from orchestrator_core.settings import Settings
from orchestrator_core.vendor_connections import (
    LIVE_BASE_URLS,
    SANDBOX_PREFIXES,
    VENDOR_SETTINGS,
    VENDORS,
    Connection,
    Mode,
    Vendor,
    VendorSettings,
    all_connections,
    connection_for,
    resolve_connection,
    safe_url,
    sandbox_base_url,
    sandbox_credential,
    setting_name,
)
from resources.resilience import RetryPolicy, Timeouts

__all__ = [
    "LIVE_BASE_URLS",
    "SANDBOX_PREFIXES",
    "VENDORS",
    "VENDOR_SETTINGS",
    "Connection",
    "Mode",
    "Vendor",
    "VendorSettings",
    "all_connections",
    "connection_for",
    "connector_options",
    "connector_retry",
    "connector_timeouts",
    "resolve_connection",
    "safe_url",
    "sandbox_base_url",
    "sandbox_credential",
    "setting_name",
]


def connector_options(settings: Settings, vendor: Vendor) -> dict[str, Any]:
    """The vendor connector's own keyword arguments (and its Dagster resource's fields) as
    `settings` give them: `{"base_id": settings.airtable_base_id}` for Airtable."""
    return {
        name: getattr(settings, setting_name(vendor, name))
        for name in VENDOR_SETTINGS[vendor].options
    }


def connector_timeouts(settings: Settings) -> Timeouts:
    return Timeouts(
        connect=settings.connector_connect_timeout_seconds,
        read=settings.connector_read_timeout_seconds,
    )


def connector_retry(settings: Settings, vendor: Vendor) -> RetryPolicy:
    """The retry bounds of one request; Airtable's outlast its 30-second penalty."""
    return RetryPolicy(
        max_attempts=settings.connector_max_attempts,
        max_elapsed_seconds=(
            settings.airtable_max_elapsed_seconds
            if vendor == "airtable"
            else settings.connector_max_elapsed_seconds
        ),
    )
