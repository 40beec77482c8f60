"""Live versus sandbox resolution, from Settings and from explicit values."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from orchestrator_core.settings import Settings
from resources.airtable import AirtableConnector
from resources.connections import (
    VENDOR_SETTINGS,
    VENDORS,
    Vendor,
    all_connections,
    connection_for,
    resolve_connection,
    safe_url,
    sandbox_credential,
    setting_name,
)
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector

TOKEN = "pat-na1-CONNECTIONS-SECRET-0001"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_nothing_configured_means_sandbox_everywhere_and_rules_for_openai() -> None:
    resolved = {
        c.vendor: c for c in all_connections(settings(sandbox_url="http://127.0.0.1:8900/"))
    }

    assert {v: c.mode for v, c in resolved.items()} == {
        "hubspot": "sandbox",
        "airtable": "sandbox",
        "notion": "sandbox",
        "google": "sandbox",
        "openai": "rules",
    }
    assert resolved["hubspot"].base_url == "http://127.0.0.1:8900/hubspot"
    assert resolved["airtable"].base_url == "http://127.0.0.1:8900/airtable"
    assert resolved["notion"].base_url == "http://127.0.0.1:8900/notion"
    assert resolved["google"].base_url == "http://127.0.0.1:8900/google"
    hubspot_credential = resolved["hubspot"].credential
    assert hubspot_credential is not None
    assert hubspot_credential.get_secret_value() == sandbox_credential("hubspot").get_secret_value()
    assert resolved["openai"].credential is None


def test_credentials_mean_live_at_the_vendor_default() -> None:
    configured = settings(
        hubspot_access_token=TOKEN,
        airtable_api_key="patAAAAAAAAAAAAAA.0123456789abcdef0123",
        notion_token="ntn_abcdefghijklmnopqrstuvwxyz",
        google_access_token="ya29.token",
        openai_api_key="sk-test-0123456789abcdef",
    )
    resolved = {c.vendor: c for c in all_connections(configured)}

    assert all(c.mode == "live" for c in resolved.values())
    assert resolved["hubspot"].base_url == "https://api.hubapi.com"
    assert resolved["airtable"].base_url == "https://api.airtable.com"
    assert resolved["notion"].base_url == "https://api.notion.com"
    assert resolved["google"].base_url == "https://www.googleapis.com"
    assert resolved["openai"].base_url == "https://api.openai.com/v1"
    credential = resolved["hubspot"].credential
    assert credential is not None and credential.get_secret_value() == TOKEN


@pytest.mark.parametrize("token", [None, TOKEN])
def test_base_url_setting_overrides_either_mode(token: str | None) -> None:
    resolved = connection_for(
        settings(hubspot_access_token=token, hubspot_host="http://proxy.internal:8080/hs/"),
        "hubspot",
    )

    assert resolved.base_url == "http://proxy.internal:8080/hs"
    assert resolved.mode == ("live" if token else "sandbox")


def test_google_service_account_file_is_a_live_credential(tmp_path: Path) -> None:
    key_file = tmp_path / "sa.json"
    resolved = connection_for(settings(google_service_account_file=key_file), "google")

    assert resolved.mode == "live"
    assert resolved.credential is None
    assert resolved.credential_file == key_file


def test_openai_key_means_live_at_openai_base_url() -> None:
    resolved = connection_for(
        settings(openai_api_key="sk-test-0123456789abcdef", openai_base_url="http://llm:1/v1"),
        "openai",
    )

    assert (resolved.mode, resolved.base_url) == ("live", "http://llm:1/v1")


def test_blank_credential_counts_as_unset() -> None:
    resolved = resolve_connection(
        vendor="notion", credential=SecretStr("  "), base_url=None, sandbox_url="http://sb:1"
    )

    assert (resolved.mode, resolved.base_url) == ("sandbox", "http://sb:1/notion")


def test_descriptions_and_reprs_never_show_the_credential() -> None:
    resolved = resolve_connection(
        vendor="hubspot",
        credential=TOKEN,
        base_url="https://user:hunter2@api.example.com/x?key=abc",
        sandbox_url="http://sb:1",
    )

    for text in (resolved.describe(), repr(resolved), str(resolved)):
        assert TOKEN not in text
    assert "hunter2" not in resolved.describe()
    assert safe_url(resolved.base_url) == "https://api.example.com/x"


def test_every_vendor_setting_the_table_names_is_a_settings_field() -> None:
    assert set(VENDOR_SETTINGS) == set(VENDORS)
    for vendor, names in VENDOR_SETTINGS.items():
        for name in (names.credential, names.base_url, names.credential_file, *names.options):
            if name is not None:
                assert setting_name(vendor, name) in Settings.model_fields, (vendor, name)


def test_every_option_is_a_keyword_of_the_vendors_connector() -> None:
    connector_types: dict[Vendor, type[object]] = {
        "hubspot": HubSpotConnector,
        "airtable": AirtableConnector,
        "notion": NotionConnector,
        "google": GoogleWorkspaceConnector,
    }
    for vendor, connector_type in connector_types.items():
        keywords = set(inspect.signature(connector_type).parameters)
        assert set(VENDOR_SETTINGS[vendor].options) <= keywords, vendor
