"""Dagster `ConfigurableResource`s for the vendor connectors: the only module here that
imports Dagster (the API process imports the plain connectors and must never import it).

Fields are plain config (base URL, limits, timeouts, retry bounds); secrets enter only as
`EnvVar("...")`. A resource whose secret is absent talks to the sandbox, exactly like the
plain connectors resolved from `Settings`. `connector_resources()` builds all four for
`Definitions(resources=...)`, wiring an `EnvVar` for each secret that is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field, PrivateAttr

from orchestrator_core.logging import get_logger
from orchestrator_core.settings import Settings, get_settings
from resources.airtable import AIRTABLE_RETRY, AirtableConnector
from resources.connections import Connection, resolve_connection
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector
from resources.resilience import RetryPolicy, Timeouts

log = get_logger(__name__)

DEFAULT_SANDBOX_URL = "http://127.0.0.1:8900"


class _VendorResource(ConfigurableResource):  # type: ignore[type-arg]
    """Config every connector resource shares: where the sandbox is, timeouts, retries."""

    sandbox_url: str = Field(
        default=DEFAULT_SANDBOX_URL, description="Sandbox server used when no secret is set."
    )
    connect_timeout_seconds: float = Field(default=3.05, gt=0)
    read_timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, description="Attempts per vendor request.")
    max_elapsed_seconds: float = Field(
        default=60.0, gt=0, description="Total time a request may take, retries included."
    )

    def _timeouts(self) -> Timeouts:
        return Timeouts(connect=self.connect_timeout_seconds, read=self.read_timeout_seconds)

    def _retry(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts, max_elapsed_seconds=self.max_elapsed_seconds
        )


class HubSpotResource(_VendorResource):
    """HubSpot CRM. `access_token=EnvVar("HUBSPOT_ACCESS_TOKEN")`; absent means sandbox."""

    access_token: str | None = Field(default=None, description="Private-app access token.")
    host: str | None = Field(default=None, description="API host; default per mode.")
    requests_per_10s: int = Field(default=100, gt=0, description="100 Starter, 190 Pro/Ent.")
    search_requests_per_second: int = Field(default=4, gt=0)

    _connector: HubSpotConnector | None = PrivateAttr(default=None)

    def connection(self) -> Connection:
        return resolve_connection(
            vendor="hubspot",
            credential=self.access_token,
            base_url=self.host,
            sandbox_url=self.sandbox_url,
        )

    def get_client(self) -> HubSpotConnector:
        """The plain connector, built on first use and kept for the run."""
        if self._connector is None:
            self._connector = HubSpotConnector.from_connection(
                self.connection(),
                requests_per_10s=self.requests_per_10s,
                search_requests_per_second=self.search_requests_per_second,
                timeouts=self._timeouts(),
                retry=self._retry(),
            )
        return self._connector

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None


class AirtableResource(_VendorResource):
    """One Airtable base. `api_key=EnvVar("AIRTABLE_API_KEY")`; absent means sandbox."""

    api_key: str | None = Field(default=None, description="Personal access token.")
    endpoint_url: str | None = Field(default=None, description="API root; default per mode.")
    base_id: str = Field(default="appOrchestratorOps")
    requests_per_second: int = Field(default=5, gt=0, description="Airtable: 5 per base.")
    rate_limit_penalty_seconds: float = Field(
        default=30.0, ge=0, description="Wait after a 429 that names none."
    )
    max_elapsed_seconds: float = Field(
        default=AIRTABLE_RETRY.max_elapsed_seconds,
        gt=0,
        description="Long enough to wait out Airtable's 30-second penalty.",
    )

    _connector: AirtableConnector | None = PrivateAttr(default=None)

    def connection(self) -> Connection:
        return resolve_connection(
            vendor="airtable",
            credential=self.api_key,
            base_url=self.endpoint_url,
            sandbox_url=self.sandbox_url,
        )

    def get_client(self) -> AirtableConnector:
        if self._connector is None:
            self._connector = AirtableConnector.from_connection(
                self.connection(),
                base_id=self.base_id,
                requests_per_second=self.requests_per_second,
                rate_limit_penalty_seconds=self.rate_limit_penalty_seconds,
                timeouts=self._timeouts(),
                retry=self._retry(),
            )
        return self._connector

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None


class NotionResource(_VendorResource):
    """Notion. `token=EnvVar("NOTION_TOKEN")`; absent means sandbox."""

    token: str | None = Field(default=None, description="Integration secret.")
    base_url: str | None = Field(default=None, description="API root; default per mode.")
    sop_parent_page_id: str | None = Field(default=None, description="Where SOP pages go.")
    requests_per_second: int = Field(default=3, gt=0)

    _connector: NotionConnector | None = PrivateAttr(default=None)

    def connection(self) -> Connection:
        return resolve_connection(
            vendor="notion",
            credential=self.token,
            base_url=self.base_url,
            sandbox_url=self.sandbox_url,
        )

    def get_client(self) -> NotionConnector:
        if self._connector is None:
            self._connector = NotionConnector.from_connection(
                self.connection(),
                sop_parent_page_id=self.sop_parent_page_id,
                requests_per_second=self.requests_per_second,
                timeouts=self._timeouts(),
                retry=self._retry(),
            )
        return self._connector

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None


class GoogleWorkspaceResource(_VendorResource):
    """Calendar and Drive. `access_token=EnvVar("GOOGLE_ACCESS_TOKEN")` or a
    service-account key file; neither means sandbox."""

    access_token: str | None = Field(default=None, description="OAuth access token.")
    service_account_file: str | None = Field(default=None, description="Key file path.")
    delegated_user: str | None = Field(
        default=None, description="Workspace user a service account acts as."
    )
    api_endpoint: str | None = Field(default=None, description="API root; default per mode.")
    calendar_requests_per_minute: int = Field(default=600, gt=0)
    drive_requests_per_minute: int = Field(default=12_000, gt=0)

    _connector: GoogleWorkspaceConnector | None = PrivateAttr(default=None)

    def connection(self) -> Connection:
        return resolve_connection(
            vendor="google",
            credential=self.access_token,
            base_url=self.api_endpoint,
            sandbox_url=self.sandbox_url,
            credential_file=Path(self.service_account_file) if self.service_account_file else None,
        )

    def get_client(self) -> GoogleWorkspaceConnector:
        if self._connector is None:
            self._connector = GoogleWorkspaceConnector.from_connection(
                self.connection(),
                delegated_user=self.delegated_user,
                calendar_requests_per_minute=self.calendar_requests_per_minute,
                drive_requests_per_minute=self.drive_requests_per_minute,
                timeouts=self._timeouts(),
                retry=self._retry(),
            )
        return self._connector

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None


def _env_secret(name: str, in_settings: bool) -> EnvVar | None:
    """`EnvVar(name)` when the variable is set in the process environment.

    A secret only in `.env` is not passed: Dagster resolves `EnvVar` from the environment,
    and a raw value would show in Dagster's config views.
    """
    if os.environ.get(name):
        return EnvVar(name)
    if in_settings:
        log.warning("secret only in .env is ignored by Dagster; export it", variable=name)
    return None


def connector_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The four connector resources, keyed `hubspot`, `airtable`, `notion`,
    `google_workspace`, for `Definitions(resources=...)`."""
    settings = settings or get_settings()
    return {
        "hubspot": HubSpotResource(
            access_token=_env_secret(
                "HUBSPOT_ACCESS_TOKEN", settings.hubspot_access_token is not None
            ),
            host=settings.hubspot_host,
            sandbox_url=settings.sandbox_url,
            requests_per_10s=settings.hubspot_requests_per_10s,
        ),
        "airtable": AirtableResource(
            api_key=_env_secret("AIRTABLE_API_KEY", settings.airtable_api_key is not None),
            endpoint_url=settings.airtable_endpoint_url,
            base_id=settings.airtable_base_id,
            sandbox_url=settings.sandbox_url,
        ),
        "notion": NotionResource(
            token=_env_secret("NOTION_TOKEN", settings.notion_token is not None),
            base_url=settings.notion_base_url,
            sop_parent_page_id=settings.notion_sop_parent_page_id,
            sandbox_url=settings.sandbox_url,
        ),
        "google_workspace": GoogleWorkspaceResource(
            access_token=_env_secret(
                "GOOGLE_ACCESS_TOKEN", settings.google_access_token is not None
            ),
            service_account_file=(
                str(settings.google_service_account_file)
                if settings.google_service_account_file
                else None
            ),
            api_endpoint=settings.google_api_endpoint,
            sandbox_url=settings.sandbox_url,
        ),
    }
