"""`orchestrator doctor`: for each vendor connector, live or sandboxed, and can it reach it.

Each check is one cheap authenticated call through the connector itself (the vendor's
official client), with a short timeout and no retry, run in parallel. Exit status 1 when a
configured (live) connector cannot be used; with `--strict`, also when a sandboxed one
cannot reach the sandbox. Nothing printed ever contains a credential.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

import click

from orchestrator_cli.context import load_settings
from orchestrator_core.settings import Settings
from resources.connections import (
    Connection,
    Vendor,
    all_connections,
    connector_options,
    safe_url,
)
from resources.errors import (
    AuthError,
    ConfigurationError,
    ConnectorError,
    PermanentConnectorError,
    RateLimitedError,
    redact,
)
from resources.resilience import NO_RETRY, Timeouts

if TYPE_CHECKING:
    from resources.airtable import AirtableConnector
    from resources.google_workspace import GoogleWorkspaceConnector
    from resources.hubspot import HubSpotConnector
    from resources.notion import NotionConnector

Status = Literal["ok", "unreachable", "auth failed", "error", "misconfigured", "not used"]


@dataclass(frozen=True)
class CheckResult:
    connector: str
    mode: str
    base_url: str
    status: Status
    detail: str

    @property
    def usable(self) -> bool:
        return self.status in ("ok", "not used")


def check_connection(connection: Connection, *, timeout: float, settings: Settings) -> CheckResult:
    """Probe one connection; never raises for a vendor failure."""
    url = safe_url(connection.base_url)
    if connection.mode == "rules":
        return CheckResult(
            "openai", "rules", url, "not used", "OPENAI_API_KEY unset: enrichment uses rules"
        )
    try:
        _ping(connection, timeout=timeout, settings=settings)
    except ConfigurationError as error:
        return CheckResult(connection.vendor, connection.mode, url, "misconfigured", str(error))
    except AuthError as error:
        return CheckResult(connection.vendor, connection.mode, url, "auth failed", str(error))
    except RateLimitedError:
        return CheckResult(
            connection.vendor, connection.mode, url, "ok", "reachable (rate limited right now)"
        )
    except PermanentConnectorError as error:
        # The service answered (e.g. 404 from a sandbox without the check endpoint).
        return CheckResult(
            connection.vendor,
            connection.mode,
            url,
            "ok",
            f"reachable (check call answered HTTP {error.status})",
        )
    except ConnectorError as error:
        if error.status is None:
            detail = str(error)
            if connection.mode == "sandbox":
                detail += "; start it with `orchestrator sandbox`"
            return CheckResult(connection.vendor, connection.mode, url, "unreachable", detail)
        return CheckResult(connection.vendor, connection.mode, url, "error", str(error))
    return CheckResult(
        connection.vendor, connection.mode, url, "ok", "authenticated call succeeded"
    )


def _ping(connection: Connection, *, timeout: float, settings: Settings) -> None:
    if connection.vendor == "openai":
        _ping_openai(connection, timeout=timeout)
        return
    connector = _connector_type(connection.vendor).from_connection(
        connection,
        **connector_options(settings, connection.vendor),
        timeouts=Timeouts(connect=timeout, read=timeout),
        retry=NO_RETRY,
    )
    try:
        connector.ping(timeout=timeout)
    finally:
        connector.close()


def _connector_type(
    vendor: Vendor,
) -> type[HubSpotConnector | AirtableConnector | NotionConnector | GoogleWorkspaceConnector]:
    """The vendor's connector class, imported only when it is checked."""
    if vendor == "hubspot":
        from resources.hubspot import HubSpotConnector

        return HubSpotConnector
    if vendor == "airtable":
        from resources.airtable import AirtableConnector

        return AirtableConnector
    if vendor == "notion":
        from resources.notion import NotionConnector

        return NotionConnector
    from resources.google_workspace import GoogleWorkspaceConnector

    return GoogleWorkspaceConnector


def _ping_openai(connection: Connection, *, timeout: float) -> None:
    """`GET {base}/models`: the cheapest authenticated OpenAI call."""
    import httpx

    from resources.errors import TransientConnectorError, error_for_status

    assert connection.credential is not None
    try:
        response = httpx.get(
            f"{connection.base_url}/models",
            headers={"Authorization": f"Bearer {connection.credential.get_secret_value()}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise TransientConnectorError(
            f"openai ping failed: {type(exc).__name__}", vendor="openai", operation="ping"
        ) from None
    if response.is_error:
        raise error_for_status(
            vendor="openai",
            operation="ping",
            status=response.status_code,
            reason=response.reason_phrase,
            secrets=(connection.credential.get_secret_value(),),
        )


def run_checks(settings: Settings, *, timeout: float) -> list[CheckResult]:
    connections = all_connections(settings)
    with ThreadPoolExecutor(max_workers=len(connections)) as pool:
        futures = [
            pool.submit(check_connection, connection, timeout=timeout, settings=settings)
            for connection in connections
        ]
        return [future.result() for future in futures]


def _secrets(settings: Settings) -> list[str]:
    values = [
        settings.hubspot_access_token,
        settings.airtable_api_key,
        settings.notion_token,
        settings.google_access_token,
        settings.openai_api_key,
    ]
    return [value.get_secret_value() for value in values if value is not None]


def echo_table(results: list[CheckResult], settings: Settings) -> None:
    """The checks as a table, secrets masked."""
    secrets = _secrets(settings)
    click.echo(f"{'connector':<10} {'mode':<8} {'status':<13} {'url':<40} detail")
    for result in results:
        line = (
            f"{result.connector:<10} {result.mode:<8} {result.status:<13} "
            f"{result.base_url:<40} {result.detail}"
        )
        click.echo(redact(line, secrets))


@click.command()
@click.option(
    "--timeout", type=float, default=3.0, show_default=True, help="Seconds allowed per check."
)
@click.option(
    "--strict", is_flag=True, help="Also fail when a sandboxed connector cannot reach the sandbox."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per connector.")
def doctor(timeout: float, strict: bool, as_json: bool) -> None:
    """Show each vendor connector's mode (live, sandbox, rules) and whether it is reachable."""
    settings = load_settings()
    results = run_checks(settings, timeout=timeout)
    secrets = _secrets(settings)
    if as_json:
        for result in results:
            click.echo(redact(json.dumps(asdict(result)), secrets))
    else:
        echo_table(results, settings)
    failed = [
        result for result in results if not result.usable and (result.mode == "live" or strict)
    ]
    if failed:
        names = ", ".join(result.connector for result in failed)
        click.echo(f"not usable: {names}", file=sys.stderr)
        raise SystemExit(1)
