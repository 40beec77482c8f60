"""The Dagster resources: EnvVar secrets, sandbox without them, plain connectors inside."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from dagster import EnvVar, asset, materialize

from orchestrator_core.settings import Settings
from resources.connections import VENDOR_SETTINGS
from resources.dagster_resources import (
    RESOURCE_TYPES,
    AirtableResource,
    GoogleWorkspaceResource,
    HubSpotResource,
    NotionResource,
    connector_resources,
)
from resources.hubspot import HubSpotConnector
from tests.vendor_sandbox import CANARY, SandboxServer


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_without_secrets_every_resource_talks_to_the_sandbox(sandbox: SandboxServer) -> None:
    resources = connector_resources(settings(sandbox_url=sandbox.base_url))

    modes = {name: resource.connection().mode for name, resource in resources.items()}
    assert modes == dict.fromkeys(("hubspot", "airtable", "notion", "google_workspace"), "sandbox")
    assert resources["hubspot"].access_token is None


def test_a_secret_in_the_environment_becomes_an_envvar_and_a_live_connector(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", CANARY)
    resources = connector_resources(
        settings(sandbox_url=sandbox.base_url, hubspot_host=sandbox.vendor_url("hubspot"))
    )
    assert isinstance(resources["hubspot"].access_token, EnvVar)

    @asset
    def company_name(hubspot: HubSpotResource) -> str:
        client = hubspot.get_client()
        assert isinstance(client, HubSpotConnector) and client.mode == "live"
        return client.get_object(object_type="companies", object_id="9001").properties["name"] or ""

    result = materialize([company_name], resources=resources)

    assert result.success
    assert result.output_for_node("company_name") == "Northwind Traders"


def test_every_resource_builds_its_connector(sandbox: SandboxServer) -> None:
    resources = connector_resources(settings(sandbox_url=sandbox.base_url))
    assert {key: type(resource) for key, resource in resources.items()} == {
        "hubspot": HubSpotResource,
        "airtable": AirtableResource,
        "notion": NotionResource,
        "google_workspace": GoogleWorkspaceResource,
    }
    for resource in resources.values():
        client = resource.get_client()
        assert client is resource.get_client()  # built once
        assert client.mode == "sandbox"
        assert CANARY not in repr(client)


def test_every_resource_has_the_fields_its_vendor_settings_name() -> None:
    for resource_type in RESOURCE_TYPES.values():
        names = VENDOR_SETTINGS[resource_type.vendor]
        expected = {names.credential, names.base_url, *names.options}
        if names.credential_file:
            expected.add(names.credential_file)
        assert expected <= set(resource_type.model_fields), resource_type.__name__


def test_plain_connectors_never_import_dagster() -> None:
    code = (
        "import sys\n"
        "import resources.airtable, resources.connections, resources.errors\n"
        "import resources.google_workspace, resources.hubspot, resources.notion\n"
        "import resources.resilience\n"
        "assert 'dagster' not in sys.modules, 'dagster imported'\n"
        "heavy = {'hubspot', 'pyairtable', 'notion_client', 'googleapiclient'} & set(sys.modules)\n"
        "assert not heavy, f'vendor clients imported at import time: {heavy}'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
