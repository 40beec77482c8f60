"""`orchestrator reconcile`: one reconciliation pass on demand (the Dagster schedule runs the
same pass daily): HubSpot compared with its Airtable and calendar mirrors, the drifts stored
with their likely cause, and a summary per mirror, kind and cause (docs/reconciliation.md)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import click
import psycopg

from orchestrator_cli.context import (
    cli_actor,
    load_policy_or_exit,
    load_settings,
    migrated_database,
    quiet_unless_asked,
)
from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.reconciliation.passes import PassResult, ReconciliationBusy, run_pass
from orchestrator_core.reconciliation.sources import Readers, Tables
from orchestrator_core.settings import Settings
from orchestrator_core.vendor_budgets import PostgresRequestBudget
from orchestrator_defs.workflows.context import WorkflowOptions
from resources.airtable import AirtableConnector
from resources.connections import (
    Vendor,
    connection_for,
    connector_options,
    connector_retry,
    connector_timeouts,
)
from resources.errors import ConnectorError
from resources.google_workspace import GoogleWorkspaceConnector
from resources.hubspot import HubSpotConnector

EXAMPLES_SHOWN = 5  # per mirror in the text; --json has the counts, the API every drift


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the pass's counts as JSON.")
def reconcile(as_json: bool) -> None:
    """Compare HubSpot with its mirrors and store the drifts."""
    settings = load_settings()
    quiet_unless_asked(settings)
    policy = load_policy_or_exit(settings)
    with migrated_database(settings) as database:
        try:
            result = _run(settings, database.url, policy)
        except ReconciliationBusy as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(
            json.dumps({"reconciliation_id": result.reconciliation_id, **result.counts}, indent=2)
        )
        return
    click.echo(render(result))


def _run(settings: Settings, url: str, policy: LoadedPolicy) -> PassResult:
    """The pass with the three connectors (their slots from the shared vendor budgets)."""
    budget = PostgresRequestBudget(url)

    def options(vendor: Vendor) -> dict[str, Any]:
        return {
            **connector_options(settings, vendor),
            "timeouts": connector_timeouts(settings),
            "retry": connector_retry(settings, vendor),
            "shared_budget": budget,
        }

    hubspot = HubSpotConnector.from_connection(
        connection_for(settings, "hubspot"), **options("hubspot")
    )
    airtable = AirtableConnector.from_connection(
        connection_for(settings, "airtable"), **options("airtable")
    )
    google = GoogleWorkspaceConnector.from_connection(
        connection_for(settings, "google"), **options("google")
    )
    workflow_tables = WorkflowOptions().tables
    tables = Tables(
        accounts=workflow_tables.accounts,
        contacts=workflow_tables.contacts,
        last_modified_field=settings.airtable_last_modified_field,
    )
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            return run_pass(
                conn,
                Readers(hubspot=hubspot, airtable=airtable, calendar=google),
                policy,
                actor=cli_actor(),
                tables=tables,
            )
    except ConnectorError as exc:  # its message never carries a credential
        raise click.ClickException(f"reconciliation stopped: {exc}") from None
    finally:
        for connector in (hubspot, airtable, google):
            connector.close()
        budget.close()


def render(result: PassResult) -> str:
    """The summary: per mirror what was compared, the drifts by kind and by cause, examples."""
    counts = result.counts
    lines = [
        f"reconciliation {result.reconciliation_id}: {counts['found']} drift(s) found"
        f" ({counts['added']} new, {counts['seen_again']} seen again),"
        f" {counts['resolved']} resolved, in {counts['seconds']:.1f} s"
    ]
    for target, summary in counts["targets"].items():
        lines.append(
            f"  {target}: {summary['hubspot']} expected, {summary['downstream']} found"
            f" downstream, {summary['found']} drift(s)"
        )
        for kind, n in sorted(summary["kinds"].items()):
            causes = Counter(
                cause.cause
                for finding, cause in result.drifts
                if finding.target == target and finding.kind == kind
            )
            by_cause = ", ".join(f"{cause} {m}" for cause, m in causes.most_common())
            lines.append(f"    {kind:<22} {n:>6}  ({by_cause})")
        mine = [(f, c) for f, c in result.drifts if f.target == target]
        for finding, cause in mine[:EXAMPLES_SHOWN]:
            subject = (
                f"{finding.object_type} {finding.object_id}"
                if finding.object_id
                else (f"row {finding.downstream_id}")
            )
            what = f" {finding.field!r}" if finding.field else ""
            lines.append(f"      {finding.kind}{what} of {subject}: {cause.summary}")
        if len(mine) > EXAMPLES_SHOWN:
            lines.append(
                f"      … and {len(mine) - EXAMPLES_SHOWN} more (GET /api/drifts?target={target})"
            )
    return "\n".join(lines)
