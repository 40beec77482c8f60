"""Connector fixtures: the vendor sandbox as a real server, connectors pointed at it, and no
connector setting leaking in from the environment running the tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator_core.settings import Settings, get_settings
from resources.airtable import AirtableConnector
from resources.connections import Vendor, connector_options
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector
from resources.resilience import RetryPolicy, Timeouts
from sandbox.config import SandboxConfig
from tests.connectors.sandbox_server import SandboxServer, start_sandbox

CONNECTOR_VARIABLES = (
    "SANDBOX_URL",
    "CONNECTOR_CONNECT_TIMEOUT_SECONDS",
    "CONNECTOR_READ_TIMEOUT_SECONDS",
    "CONNECTOR_MAX_ATTEMPTS",
    "CONNECTOR_MAX_ELAPSED_SECONDS",
    "HUBSPOT_ACCESS_TOKEN",
    "HUBSPOT_HOST",
    "HUBSPOT_REQUESTS_PER_10S",
    "HUBSPOT_SEARCH_REQUESTS_PER_SECOND",
    "AIRTABLE_API_KEY",
    "AIRTABLE_ENDPOINT_URL",
    "AIRTABLE_BASE_ID",
    "AIRTABLE_REQUESTS_PER_SECOND",
    "AIRTABLE_RATE_LIMIT_PENALTY_SECONDS",
    "AIRTABLE_MAX_ELAPSED_SECONDS",
    "NOTION_TOKEN",
    "NOTION_BASE_URL",
    "NOTION_SOP_PARENT_PAGE_ID",
    "NOTION_REQUESTS_PER_SECOND",
    "GOOGLE_ACCESS_TOKEN",
    "GOOGLE_SERVICE_ACCOUNT_FILE",
    "GOOGLE_API_ENDPOINT",
    "GOOGLE_CALENDAR_REQUESTS_PER_MINUTE",
    "GOOGLE_DRIVE_REQUESTS_PER_MINUTE",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)


@pytest.fixture(autouse=True)
def clean_connector_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in CONNECTOR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# -- the sandbox, and connectors pointed at it ---------------------------------------------

# A recognisable credential in no vendor's token shape, so `redact()`'s patterns cannot hide
# a leak: tests assert it never shows up in an error, a repr or a log line.
CANARY = "canary-Credential-7f3a9c21e5"
SOP_PARENT = "1b2c3d4e-0000-4a00-8000-00000000a002"
BASE_ID = "appOrchestratorOps"
# Quick retries so failure paths take well under a second.
FAST_RETRY = RetryPolicy(
    max_attempts=3, max_elapsed_seconds=15.0, initial_backoff_seconds=0.05, max_backoff_seconds=0.2
)
TIMEOUTS = Timeouts(connect=2.0, read=10.0)


def sandbox_config(**vendors: dict[str, Any]) -> SandboxConfig:
    """The vendors' real limits, except a 1-second Airtable penalty, plus `vendors` overrides."""
    values: dict[str, Any] = {"airtable": {"penalty_seconds": 1.0}}
    for vendor, overrides in vendors.items():
        values[vendor] = {**values.get(vendor, {}), **overrides}
    return SandboxConfig.model_validate(values)


@pytest.fixture(scope="session")
def sandbox_server(database_url: str) -> Iterator[SandboxServer]:
    server = start_sandbox(database_url, sandbox_config())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The sandbox at its seed, with the test config and an empty request log."""
    sandbox_server.configure(sandbox_config())
    sandbox_server.reset()
    return sandbox_server


def connector_kwargs(vendor: Vendor, **options: Any) -> dict[str, Any]:
    """A connector's options as Settings default them, the test timeouts and retry, then
    `options`."""
    defaults = connector_options(Settings(_env_file=None), vendor)
    return {**defaults, "timeouts": TIMEOUTS, "retry": FAST_RETRY, **options}


def hubspot_for(sandbox: SandboxServer, **options: Any) -> HubSpotConnector:
    return HubSpotConnector(
        access_token=CANARY,
        host=sandbox.vendor_url("hubspot"),
        mode="sandbox",
        **connector_kwargs("hubspot", **options),
    )


def airtable_for(sandbox: SandboxServer, **options: Any) -> AirtableConnector:
    return AirtableConnector(
        api_key=CANARY,
        endpoint_url=sandbox.vendor_url("airtable"),
        mode="sandbox",
        **connector_kwargs("airtable", base_id=BASE_ID, **options),
    )


def notion_for(sandbox: SandboxServer, **options: Any) -> NotionConnector:
    return NotionConnector(
        token=CANARY,
        base_url=sandbox.vendor_url("notion"),
        mode="sandbox",
        **connector_kwargs("notion", sop_parent_page_id=SOP_PARENT, **options),
    )


def google_for(sandbox: SandboxServer, **options: Any) -> GoogleWorkspaceConnector:
    return GoogleWorkspaceConnector(
        access_token=CANARY,
        api_endpoint=sandbox.vendor_url("google"),
        mode="sandbox",
        **connector_kwargs("google", **options),
    )


@pytest.fixture
def hubspot(sandbox: SandboxServer) -> Iterator[HubSpotConnector]:
    connector = hubspot_for(sandbox)
    yield connector
    connector.close()


@pytest.fixture
def airtable(sandbox: SandboxServer) -> Iterator[AirtableConnector]:
    connector = airtable_for(sandbox)
    yield connector
    connector.close()


@pytest.fixture
def notion(sandbox: SandboxServer) -> Iterator[NotionConnector]:
    connector = notion_for(sandbox)
    yield connector
    connector.close()


@pytest.fixture
def google(sandbox: SandboxServer) -> Iterator[GoogleWorkspaceConnector]:
    connector = google_for(sandbox)
    yield connector
    connector.close()
