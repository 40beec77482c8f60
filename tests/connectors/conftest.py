"""Connector fixtures: connectors pointed at the sandbox (tests/vendor_sandbox.py), and no
connector setting leaking in from the environment running the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator_core.settings import get_settings
from resources.airtable import AirtableConnector
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector
from tests.vendor_sandbox import (
    SandboxServer,
    airtable_for,
    google_for,
    hubspot_for,
    notion_for,
)

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
