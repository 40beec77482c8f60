"""Where each vendor connector connects: the vendor (live) or the local sandbox, and with what.

`VENDOR_SETTINGS` names each vendor's settings; every connector setting (and its default)
is a `Settings` field. This module only resolves them (no client, no I/O), so the API's health
checks, `orchestrator doctor` and the connectors (`resources.connections`) share one answer.

One rule for every vendor: configured credentials mean live; none mean the sandbox at
`SANDBOX_URL` + the vendor's prefix, with a dummy credential. The vendor's base-URL setting,
when set, overrides the address either way (a proxy, a regional host, a sandbox elsewhere).
OpenAI has no sandbox mode here: without OPENAI_API_KEY enrichment uses deterministic rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from orchestrator_core.settings import Settings

Vendor = Literal["hubspot", "airtable", "notion", "google", "openai"]
Mode = Literal["live", "sandbox", "rules"]

VENDORS: tuple[Vendor, ...] = get_args(Vendor)

LIVE_BASE_URLS: dict[Vendor, str] = {
    "hubspot": "https://api.hubapi.com",
    "airtable": "https://api.airtable.com",
    "notion": "https://api.notion.com",
    "google": "https://www.googleapis.com",
    "openai": "https://api.openai.com/v1",
}

# Path of each vendor under the sandbox server (see `orchestrator sandbox`).
SANDBOX_PREFIXES: dict[Vendor, str] = {
    "hubspot": "/hubspot",
    "airtable": "/airtable",
    "notion": "/notion",
    "google": "/google",
    "openai": "/openai/v1",
}


@dataclass(frozen=True)
class VendorSettings:
    """The names of a vendor's settings. Each `name` is the field `<vendor>_<name>` of
    `Settings` (env `<VENDOR>_<NAME>`) and the field `name` of the vendor's Dagster resource."""

    credential: str
    base_url: str
    # Google only: a service-account key file, the alternative to the credential.
    credential_file: str | None = None
    # The connector's own keyword arguments taken from settings (see `connector_options`).
    options: tuple[str, ...] = ()


VENDOR_SETTINGS: dict[Vendor, VendorSettings] = {
    "hubspot": VendorSettings(
        credential="access_token",
        base_url="host",
        options=("requests_per_10s", "search_requests_per_second"),
    ),
    "airtable": VendorSettings(
        credential="api_key",
        base_url="endpoint_url",
        options=("base_id", "requests_per_second", "rate_limit_penalty_seconds"),
    ),
    "notion": VendorSettings(
        credential="token",
        base_url="base_url",
        options=("sop_parent_page_id", "requests_per_second"),
    ),
    "google": VendorSettings(
        credential="access_token",
        base_url="api_endpoint",
        credential_file="service_account_file",
        options=("calendar_requests_per_minute", "drive_requests_per_minute"),
    ),
    "openai": VendorSettings(credential="api_key", base_url="base_url"),
}


def setting_name(vendor: Vendor, name: str) -> str:
    """The `Settings` field of one of a vendor's settings: `setting_name("hubspot", "host")`."""
    return f"{vendor}_{name}"


def sandbox_credential(vendor: Vendor) -> SecretStr:
    """The dummy credential sent to the sandbox (it accepts any non-empty one)."""
    return SecretStr(f"sandbox-{vendor}-credential")


@dataclass(frozen=True)
class Connection:
    """A resolved connection: mode, base URL (no trailing slash) and credential."""

    vendor: Vendor
    mode: Mode
    base_url: str
    # None only in `rules` mode, or for Google when a service-account file is used instead.
    credential: SecretStr | None
    # Google only: the service-account key file, when that is the configured credential.
    credential_file: Path | None = None

    def describe(self) -> str:
        """One line, safe to print: mode and URL without any userinfo; never the credential."""
        return f"{self.vendor}: {self.mode} at {safe_url(self.base_url)}"


def resolve_connection(
    *,
    vendor: Vendor,
    credential: SecretStr | str | None,
    base_url: str | None,
    sandbox_url: str,
    credential_file: Path | None = None,
) -> Connection:
    """The connection for explicit values (settings, or a Dagster resource's config)."""
    secret = _secret(credential)
    configured = secret is not None or credential_file is not None
    if vendor == "openai" and not configured:
        return Connection(
            vendor=vendor,
            mode="rules",
            base_url=_clean(base_url or LIVE_BASE_URLS[vendor]),
            credential=None,
        )
    if configured:
        return Connection(
            vendor=vendor,
            mode="live",
            base_url=_clean(base_url or LIVE_BASE_URLS[vendor]),
            credential=secret,
            credential_file=credential_file if secret is None else None,
        )
    return Connection(
        vendor=vendor,
        mode="sandbox",
        base_url=_clean(base_url or sandbox_base_url(sandbox_url, vendor)),
        credential=sandbox_credential(vendor),
    )


def sandbox_base_url(sandbox_url: str, vendor: Vendor) -> str:
    return _clean(sandbox_url) + SANDBOX_PREFIXES[vendor]


def connection_for(settings: Settings, vendor: Vendor) -> Connection:
    """The vendor's connection as `settings` configure it (see `VENDOR_SETTINGS`)."""
    names = VENDOR_SETTINGS[vendor]
    return resolve_connection(
        vendor=vendor,
        credential=getattr(settings, setting_name(vendor, names.credential)),
        base_url=getattr(settings, setting_name(vendor, names.base_url)),
        sandbox_url=settings.sandbox_url,
        credential_file=(
            getattr(settings, setting_name(vendor, names.credential_file))
            if names.credential_file
            else None
        ),
    )


def all_connections(settings: Settings) -> tuple[Connection, ...]:
    """Every vendor's connection, in a fixed order."""
    return tuple(connection_for(settings, vendor) for vendor in VENDORS)


def safe_url(url: str) -> str:
    """`url` without userinfo, query or fragment (where credentials sometimes hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _secret(value: SecretStr | str | None) -> SecretStr | None:
    if value is None:
        return None
    secret = value if isinstance(value, SecretStr) else SecretStr(value)
    return secret if secret.get_secret_value().strip() else None


def _clean(url: str) -> str:
    return url.strip().rstrip("/")
