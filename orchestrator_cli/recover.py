"""`orchestrator recover`: one recovery pass on demand (the Dagster schedule runs the same pass
every 15 minutes): HubSpot's changes that no webhook delivered become recovered envelopes,
which the event sensor routes like any other (docs/recovery.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import get_args

import click
import psycopg

from orchestrator_cli.context import (
    cli_actor,
    load_policy_or_exit,
    load_settings,
    migrated_database,
    quiet_unless_asked,
)
from orchestrator_cli.moments import Moment
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.recovery import (
    SEARCH_TYPES,
    CrmSearchSource,
    RecoveryBusyError,
    RecoveryError,
    RecoveryReport,
    RecoveryRequest,
    SearchType,
    recover_missed,
)
from orchestrator_core.recovery.portal import resolve_portal_id
from orchestrator_core.recovery.rules import MissedChange, from_ms
from orchestrator_core.settings import Settings
from orchestrator_core.vendor_budgets import PostgresRequestBudget
from resources.connections import (
    connection_for,
    connector_options,
    connector_retry,
    connector_timeouts,
)
from resources.errors import ConnectorError
from resources.hubspot import HubSpotConnector


@click.command()
@click.option(
    "--since",
    type=Moment(),
    help="Check changes from this time (ISO, or a duration ago: 2h, 3d). Default: each object"
    " type's watermark (a first pass: RECOVERY_FIRST_LOOKBACK_HOURS back).",
)
@click.option(
    "--until",
    type=Moment(),
    help="Check changes before this time. Default and latest: now minus RECOVERY_SETTLE_SECONDS.",
)
@click.option(
    "--object-type",
    "object_types",
    type=click.Choice(get_args(SearchType)),
    multiple=True,
    help="companies, contacts or deals (repeatable); default all three.",
)
@click.option("--dry-run", is_flag=True, help="List what would be recovered; store nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def recover(
    since: datetime | None,
    until: datetime | None,
    object_types: tuple[SearchType, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Recover HubSpot changes that no webhook delivered."""
    settings = load_settings()
    quiet_unless_asked(settings)
    policy = load_policy_or_exit(settings)
    latest = datetime.now(UTC) - timedelta(seconds=settings.recovery_settle_seconds)
    notes = []
    if until is None or until > latest:
        if until is not None:
            notes.append(
                f"--until moved back to {_utc(latest)}: changes newer than"
                f" {settings.recovery_settle_seconds} s may not be searchable yet"
            )
        until = latest
    if since is not None and since >= until:
        raise click.ClickException(f"--since {_utc(since)} is not before --until {_utc(until)}")
    request = RecoveryRequest(
        until=until,
        since=since,
        object_types=object_types or SEARCH_TYPES,
        first_lookback=timedelta(hours=settings.recovery_first_lookback_hours),
        dry_run=dry_run,
        actor=cli_actor(),
    )
    with migrated_database(settings) as database:
        try:
            report = _run(settings, database.url, policy, request)
        except (RecoveryBusyError, RecoveryError) as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    for note in notes:
        click.echo(note, err=True)
    click.echo(_render(report))


def _run(
    settings: Settings, url: str, policy: LoadedPolicy, request: RecoveryRequest
) -> RecoveryReport:
    """The pass with the HubSpot connector (its search slots from the shared vendor budgets)."""
    budget = PostgresRequestBudget(url)
    connector = HubSpotConnector.from_connection(
        connection_for(settings, "hubspot"),
        **connector_options(settings, "hubspot"),
        timeouts=connector_timeouts(settings),
        retry=connector_retry(settings, "hubspot"),
        shared_budget=budget,
    )
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            portal_id = resolve_portal_id(conn, settings.hubspot_portal_id)
            if portal_id is None:
                raise click.ClickException(
                    "no HubSpot portal known: set HUBSPOT_PORTAL_ID (no webhook is stored yet)"
                )
            return recover_missed(
                conn,
                CrmSearchSource(connector),
                policy,
                request,
                portal_id=portal_id,
                correlation_window_seconds=settings.correlation_window_seconds,
            )
    except ConnectorError as exc:  # its message never carries the token
        raise click.ClickException(f"HubSpot search failed: {exc}") from None
    finally:
        connector.close()
        budget.close()


def _render(report: RecoveryReport) -> str:
    head = f"recovery pass {report.pass_id}"
    if report.dry_run:
        head += " (dry run: nothing stored)"
    lines = [head]
    for t in report.types:
        found = t.creations + t.property_changes
        line = (
            f"  {t.object_type:<9} {_utc(t.since)} - {_utc(t.until)}: {t.objects} modified"
            f" in {t.windows} window(s), {found} missed ({t.creations} creation(s),"
            f" {t.property_changes} property change(s))"
        )
        if not report.dry_run:
            line += f", {t.stored} stored, {t.already_stored} already stored"
        if t.unknown:
            line += f", {t.unknown} never seen before (not recovered)"
        lines.append(line)
        if not report.dry_run:
            checked = _utc(t.watermark) if t.watermark else "-"
            lines.append(f"  {'':<9} checked until {checked}")
    if report.changes:
        lines.append("would be recovered:" if report.dry_run else "recovered:")
        lines += [f"  {_describe(change)}" for change in report.changes]
    if report.found > len(report.changes):
        lines.append(f"  … and {report.found - len(report.changes)} more")
    return "\n".join(lines)


def _describe(change: MissedChange) -> str:
    what = f"{change.subscription_type:<22} {change.object_id:>12}"
    if change.property_name:
        what += f"  {change.property_name}: {change.old_value!r} -> {change.new_value!r}"
    return f"{what}  at {_utc(from_ms(change.occurred_ms))}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
