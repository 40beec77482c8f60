"""Dagster `ConfigurableResource`s for the vendor connectors: the only module here that
imports Dagster (the API process imports the plain connectors and must never import it).

`VendorResource` is what every connector resource shares: the sandbox URL, timeouts and
retry bounds, the connection (live with a secret, else the sandbox, exactly like the plain
connectors resolved from `Settings`), the connector built on first use and closed at
teardown. Each vendor's resource declares only what differs: its credential and base-URL
fields (named as in `VENDOR_SETTINGS`), its own limits, and how to build its connector.

Fields are plain config with no defaults of their own (unset credentials and base URLs are
None); secrets enter only as `EnvVar("...")`. `connector_resources()` builds all four for
`Definitions(resources=...)` from `Settings`, where every default lives, wiring an `EnvVar`
for each secret that is set.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field, PrivateAttr

from orchestrator_core.logging import get_logger
from orchestrator_core.settings import Settings, get_settings
from resources.airtable import AirtableConnector
from resources.connections import (
    VENDOR_SETTINGS,
    Connection,
    Vendor,
    connector_options,
    connector_retry,
    connector_timeouts,
    resolve_connection,
    setting_name,
)
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector
from resources.notion import NotionConnector
from resources.resilience import CallObserver, RetryPolicy, SharedBudget, Timeouts

log = get_logger(__name__)


class Connector(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Connector)


class VendorResource(ConfigurableResource[Any], Generic[C]):
    """Config every connector resource shares, its connection and its cached connector."""

    vendor: ClassVar[Vendor]

    sandbox_url: str = Field(description="Sandbox server used when no secret is set.")
    connect_timeout_seconds: float = Field(gt=0)
    read_timeout_seconds: float = Field(gt=0)
    max_attempts: int = Field(ge=1, description="Attempts per vendor request.")
    max_elapsed_seconds: float = Field(
        gt=0, description="Total time a request may take, retries included."
    )

    _connector: C | None = PrivateAttr(default=None)

    def connection(self) -> Connection:
        names = VENDOR_SETTINGS[self.vendor]
        key_file = getattr(self, names.credential_file) if names.credential_file else None
        return resolve_connection(
            vendor=self.vendor,
            credential=getattr(self, names.credential),
            base_url=getattr(self, names.base_url),
            sandbox_url=self.sandbox_url,
            credential_file=Path(key_file) if key_file else None,
        )

    def get_client(
        self,
        shared_budget: SharedBudget | None = None,
        call_observer: CallObserver | None = None,
    ) -> C:
        """The plain connector, built on first use and kept for the run; its throttles take
        their slots in `shared_budget` too when one is given, and `call_observer` counts its
        requests (the first call decides both)."""
        if self._connector is None:
            self._connector = self._build(
                self.connection(),
                timeouts=Timeouts(
                    connect=self.connect_timeout_seconds, read=self.read_timeout_seconds
                ),
                retry=RetryPolicy(
                    max_attempts=self.max_attempts, max_elapsed_seconds=self.max_elapsed_seconds
                ),
                shared_budget=shared_budget,
                call_observer=call_observer,
            )
        return self._connector

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None

    @abstractmethod
    def _build(
        self,
        connection: Connection,
        *,
        timeouts: Timeouts,
        retry: RetryPolicy,
        shared_budget: SharedBudget | None,
        call_observer: CallObserver | None,
    ) -> C:
        """The vendor's connector for `connection`, with this resource's own limits."""


class HubSpotResource(VendorResource[HubSpotConnector]):
    """HubSpot CRM. `access_token=EnvVar("HUBSPOT_ACCESS_TOKEN")`; absent means sandbox."""

    vendor: ClassVar[Vendor] = "hubspot"

    access_token: str | None = Field(default=None, description="Private-app access token.")
    host: str | None = Field(default=None, description="API host; default per mode.")
    requests_per_10s: int = Field(gt=0, description="100 Starter, 190 Pro/Ent.")
    search_requests_per_second: int = Field(gt=0)

    def _build(
        self,
        connection: Connection,
        *,
        timeouts: Timeouts,
        retry: RetryPolicy,
        shared_budget: SharedBudget | None,
        call_observer: CallObserver | None,
    ) -> HubSpotConnector:
        return HubSpotConnector.from_connection(
            connection,
            requests_per_10s=self.requests_per_10s,
            search_requests_per_second=self.search_requests_per_second,
            timeouts=timeouts,
            retry=retry,
            shared_budget=shared_budget,
            call_observer=call_observer,
        )


class AirtableResource(VendorResource[AirtableConnector]):
    """One Airtable base. `api_key=EnvVar("AIRTABLE_API_KEY")`; absent means sandbox."""

    vendor: ClassVar[Vendor] = "airtable"

    api_key: str | None = Field(default=None, description="Personal access token.")
    endpoint_url: str | None = Field(default=None, description="API root; default per mode.")
    base_id: str
    requests_per_second: int = Field(gt=0, description="Airtable: 5 per base.")
    rate_limit_penalty_seconds: float = Field(ge=0, description="Wait after a 429 that names none.")

    def _build(
        self,
        connection: Connection,
        *,
        timeouts: Timeouts,
        retry: RetryPolicy,
        shared_budget: SharedBudget | None,
        call_observer: CallObserver | None,
    ) -> AirtableConnector:
        return AirtableConnector.from_connection(
            connection,
            base_id=self.base_id,
            requests_per_second=self.requests_per_second,
            rate_limit_penalty_seconds=self.rate_limit_penalty_seconds,
            timeouts=timeouts,
            retry=retry,
            shared_budget=shared_budget,
            call_observer=call_observer,
        )


class NotionResource(VendorResource[NotionConnector]):
    """Notion. `token=EnvVar("NOTION_TOKEN")`; absent means sandbox."""

    vendor: ClassVar[Vendor] = "notion"

    token: str | None = Field(default=None, description="Integration secret.")
    base_url: str | None = Field(default=None, description="API root; default per mode.")
    sop_parent_page_id: str | None = Field(default=None, description="Where SOP pages go.")
    requests_per_second: int = Field(gt=0)

    def _build(
        self,
        connection: Connection,
        *,
        timeouts: Timeouts,
        retry: RetryPolicy,
        shared_budget: SharedBudget | None,
        call_observer: CallObserver | None,
    ) -> NotionConnector:
        return NotionConnector.from_connection(
            connection,
            sop_parent_page_id=self.sop_parent_page_id,
            requests_per_second=self.requests_per_second,
            timeouts=timeouts,
            retry=retry,
            shared_budget=shared_budget,
            call_observer=call_observer,
        )


class GoogleWorkspaceResource(VendorResource[GoogleWorkspaceConnector]):
    """Calendar and Drive. `access_token=EnvVar("GOOGLE_ACCESS_TOKEN")` or a
    service-account key file; neither means sandbox."""

    vendor: ClassVar[Vendor] = "google"

    access_token: str | None = Field(default=None, description="OAuth access token.")
    service_account_file: str | None = Field(default=None, description="Key file path.")
    delegated_user: str | None = Field(
        default=None, description="Workspace user a service account acts as."
    )
    api_endpoint: str | None = Field(default=None, description="API root; default per mode.")
    calendar_requests_per_minute: int = Field(gt=0)
    drive_requests_per_minute: int = Field(gt=0)

    def _build(
        self,
        connection: Connection,
        *,
        timeouts: Timeouts,
        retry: RetryPolicy,
        shared_budget: SharedBudget | None,
        call_observer: CallObserver | None,
    ) -> GoogleWorkspaceConnector:
        return GoogleWorkspaceConnector.from_connection(
            connection,
            delegated_user=self.delegated_user,
            calendar_requests_per_minute=self.calendar_requests_per_minute,
            drive_requests_per_minute=self.drive_requests_per_minute,
            timeouts=timeouts,
            retry=retry,
            shared_budget=shared_budget,
            call_observer=call_observer,
        )


# The resource keys Dagster ops name their parameters after.
RESOURCE_TYPES: dict[str, type[VendorResource[Any]]] = {
    "hubspot": HubSpotResource,
    "airtable": AirtableResource,
    "notion": NotionResource,
    "google_workspace": GoogleWorkspaceResource,
}


def connector_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The four connector resources, keyed `hubspot`, `airtable`, `notion`,
    `google_workspace`, for `Definitions(resources=...)`."""
    settings = settings or get_settings()
    return {
        key: resource_type(**_config(settings, resource_type.vendor))
        for key, resource_type in RESOURCE_TYPES.items()
    }


def _config(settings: Settings, vendor: Vendor) -> dict[str, Any]:
    """A vendor resource's config from `settings`: the secret as an `EnvVar` (or None), the
    base URL, the key file, the sandbox URL, timeouts, retry bounds and the connector's own
    options."""
    names = VENDOR_SETTINGS[vendor]
    credential = setting_name(vendor, names.credential)
    timeouts = connector_timeouts(settings)
    retry = connector_retry(settings, vendor)
    config: dict[str, Any] = {
        names.credential: _env_secret(
            credential.upper(), getattr(settings, credential) is not None
        ),
        names.base_url: getattr(settings, setting_name(vendor, names.base_url)),
        "sandbox_url": settings.sandbox_url,
        "connect_timeout_seconds": timeouts.connect,
        "read_timeout_seconds": timeouts.read,
        "max_attempts": retry.max_attempts,
        "max_elapsed_seconds": retry.max_elapsed_seconds,
        **connector_options(settings, vendor),
    }
    if names.credential_file:
        key_file = getattr(settings, setting_name(vendor, names.credential_file))
        config[names.credential_file] = str(key_file) if key_file else None
    return config


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
