"""`orchestrator doctor`: the health of every dependency, as `GET /api/health` reports it.

The database (it answers), its migrations (at this code's head), the Dagster daemon (a recent
heartbeat from each daemon type, read from Dagster's storage), each vendor connector (live,
sandbox or not configured, and one cheap authenticated call, short timeout, no retry, all at
once) and the sandbox when a connector uses it. The checks are `orchestrator_core.health`'s,
the API's own. Nothing printed ever contains a credential; nothing is migrated or changed.

Exit status: 0 when usable; 1 when the database is unreachable, its migrations are not current
or a live connector cannot be used; with `--strict`, also when the daemon is down or a
sandboxed connector cannot reach the sandbox.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import click
import orjson
from psycopg import AsyncConnection

from orchestrator_cli.context import load_settings, quiet_unless_asked, resolved_database
from orchestrator_core.health.model import Check, safe_error
from orchestrator_core.health.report import HealthMonitor, HealthReport, build_report
from orchestrator_core.health.storage import Connect, StorageChecks
from orchestrator_core.health.vendors import VendorCheck, check_vendors
from orchestrator_core.settings import Settings
from orchestrator_core.vendor_connections import all_connections
from resources.errors import redact


def collect(settings: Settings, *, timeout: float) -> HealthReport:
    """Every dependency checked once (the vendors in threads while the database is read)."""
    monitor = HealthMonitor(settings)
    connections = all_connections(settings)

    async def both(url: str | None, error: str | None) -> tuple[StorageChecks, list[VendorCheck]]:
        vendors = asyncio.create_task(
            asyncio.to_thread(check_vendors, connections, timeout=timeout)
        )
        if url is None:
            down = Check("down", None, error)
            unchecked = Check("down", None, "not checked: the database is down")
            storage = StorageChecks(down, unchecked, unchecked)
        else:
            storage = await monitor.storage(_connector(url, timeout))
        return storage, await vendors

    try:
        with resolved_database(settings) as database:
            storage, vendors = asyncio.run(both(database.url, None))
    except click.ClickException as exc:  # no server could be started or reached
        storage, vendors = asyncio.run(both(None, safe_error(exc.message)))
    return build_report(settings, storage, {check.vendor: check for check in vendors})


def _connector(url: str, timeout: float) -> Connect:
    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncConnection[Any]]:
        conn = await AsyncConnection.connect(url, connect_timeout=max(1, round(timeout)))
        try:
            yield conn
        finally:
            await conn.close()

    return connect


def failures(report: HealthReport, *, strict: bool) -> list[str]:
    """The dependencies that make the exit status 1."""
    failed = [name for name in ("database", "migrations") if getattr(report, name).down]
    if strict and report.dagster_daemon.down:
        failed.append("dagster_daemon")
    failed += [
        name
        for name, check in report.vendors.items()
        if not check.usable and (check.mode == "live" or strict)
    ]
    return failed


def _ms(check: Check) -> str:
    return "" if check.latency_ms is None else f"{check.latency_ms:.0f} ms"


def _detail(name: str, check: Check) -> str:
    if name == "migrations" and "head" in check.detail:
        return check.last_error or f"revision {check.detail['revision']} (head)"
    if name == "dagster_daemon" and check.last_error is None:
        beats = check.detail.get("heartbeats")
        if isinstance(beats, dict):
            ages = [f"{kind} {info['age_seconds']:.0f} s" for kind, info in beats.items()]
            return "last heartbeats: " + ", ".join(ages)
    if name == "sandbox":
        return f"{check.detail.get('url')}" + (f": {check.last_error}" if check.last_error else "")
    return check.last_error or ""


def echo_text(report: HealthReport, secrets: list[str]) -> None:
    """The report as two tables (dependencies, then connectors), secrets masked."""

    def echo(line: str) -> None:
        click.echo(redact(line, secrets))

    echo(f"{'dependency':<15} {'status':<15} {'latency':<8} detail")
    rows = [
        ("database", report.database),
        ("migrations", report.migrations),
        ("dagster_daemon", report.dagster_daemon),
    ]
    if report.sandbox is not None:
        rows.append(("sandbox", report.sandbox))
    for name, check in rows:
        echo(f"{name:<15} {check.status:<15} {_ms(check):<8} {_detail(name, check)}")
    echo("")
    echo(f"{'connector':<10} {'mode':<15} {'status':<13} {'url':<40} detail")
    for result in report.vendors.values():
        echo(
            f"{result.vendor:<10} {result.mode:<15} {result.reachability:<13} "
            f"{result.base_url:<40} {result.detail}"
        )
    echo("")
    echo(f"overall: {report.status}")


def _secrets(settings: Settings) -> list[str]:
    values = [
        settings.hubspot_access_token,
        settings.airtable_api_key,
        settings.notion_token,
        settings.google_access_token,
        settings.openai_api_key,
        settings.database_url,
    ]
    return [value.get_secret_value() for value in values if value is not None]


@click.command()
@click.option(
    "--timeout", type=float, default=3.0, show_default=True, help="Seconds allowed per check."
)
@click.option(
    "--strict",
    is_flag=True,
    help="Also fail when the Dagster daemon is down or a sandboxed connector cannot reach the"
    " sandbox.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON document.")
def doctor(timeout: float, strict: bool, as_json: bool) -> None:
    """Show every dependency's health: database, migrations, Dagster daemon, vendors."""
    settings = load_settings()
    quiet_unless_asked(settings)
    report = collect(settings.model_copy(update={"health_check_timeout_seconds": timeout}),
                     timeout=timeout)  # fmt: skip
    if as_json:
        text = orjson.dumps(report.as_dict(detail=True), option=orjson.OPT_INDENT_2).decode()
        click.echo(redact(text, _secrets(settings)))
    else:
        echo_text(report, _secrets(settings))
    failed = failures(report, strict=strict)
    if failed:
        click.echo(f"not usable: {', '.join(failed)}", file=sys.stderr)
        raise SystemExit(1)
