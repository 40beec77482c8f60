"""`orchestrator analytics`: build the KPI marts, read the headline KPIs, query the marts,
say where the file is. Nothing here imports Dagster; the Dagster schedule builds the same
marts through dagster-dbt (`orchestrator_defs/assets/analytics.py`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click
import psycopg
import sqlalchemy.exc

from orchestrator_cli.context import (
    load_policy_or_exit,
    load_settings,
    quiet_unless_asked,
    resolved_database,
)
from orchestrator_core.policy.vocabulary import WORKFLOW_NAMES

if TYPE_CHECKING:
    from orchestrator_core.analytics.kpis import Kpis


@click.group()
def analytics() -> None:
    """KPI marts in DuckDB, built by the dbt project dbt_audit/ from the product's tables."""


@analytics.command("build")
def analytics_build() -> None:
    """Build every model and run every dbt test into a new file, then publish it over the
    marts (readers never see a half-built file; a failure keeps the last good one)."""
    from orchestrator_core.analytics.build import BuildFailed, NodeResult, build_marts
    from orchestrator_core.db.migrate import current_revision, head_revision

    settings = load_settings()
    quiet_unless_asked(settings)
    policy = load_policy_or_exit(settings)
    done = {"model": 0, "test": 0}

    def progress(node: NodeResult) -> None:
        done[node.resource_type] = done.get(node.resource_type, 0) + 1
        mark = "ok  " if node.passed else node.status.upper().ljust(4)
        click.echo(f"  {mark} {node.resource_type:<5} {node.name:<60} {node.seconds:6.2f} s")

    target = settings.kpis_path
    click.echo(f"building the KPI marts into {target} (dbt project dbt_audit/)")
    # Read only: a build never moves the schema under running services (no migration).
    with resolved_database(settings) as database:
        try:
            revision, head = current_revision(database.url), head_revision()
            if revision != head:
                raise click.ClickException(
                    f"the database is at schema revision {revision} (head {head}): run"
                    " `orchestrator db upgrade` (or start `orchestrator serve`) first"
                )
            report = build_marts(
                database.url,
                policy,
                target,
                threads=settings.analytics_dbt_threads,
                on_node=progress,
            )
        except BuildFailed as exc:
            click.echo(str(exc), err=True)
            raise click.ClickException(
                "analytics build failed; the marts already published (if any) are unchanged"
            ) from None
        except (psycopg.OperationalError, sqlalchemy.exc.OperationalError) as exc:
            # libpq's message names the server, never the password.
            reason = getattr(exc, "orig", None) or exc
            raise click.ClickException(f"cannot read the product's database: {reason}") from None
    click.echo(
        f"published {report.path}: {report.models} models, {report.tests} tests passed,"
        f" {report.seconds:.1f} s; data as of {_utc(report.built_at)}"
    )


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _figure(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _json_default(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def render_kpis(kpis: Kpis) -> str:
    """The headline KPIs as a readable block of text."""
    runs, approvals, exceptions, latency = kpis.runs, kpis.approvals, kpis.exceptions, kpis.latency
    scope = f"workflow {kpis.workflow}" if kpis.workflow else "all workflows"
    lines = [
        f"KPIs {kpis.period.start} - {kpis.period.end} (UTC days), {scope}",
        f"data as of {_utc(kpis.build.built_at)} (policy {kpis.build.policy_version})",
        "",
        "workflow runs",
        f"  requested           {_figure(runs['total'])}",
        f"  succeeded / failed  {_figure(runs['succeeded'])} / {_figure(runs['failed'])}"
        f"  (success {_share(runs['success_rate'])} of finished runs)",
        f"  awaiting approval   {_figure(runs['awaiting_approval'])}",
        f"  in progress         {_figure(runs['in_progress'])}",
        f"  duration p50 / p95  {_figure(runs['p50_duration_seconds'])} s"
        f" / {_figure(runs['p95_duration_seconds'])} s",
        "approvals",
        f"  requested / decided {_figure(approvals['requested'])} / {_figure(approvals['decided'])}"
        f"  (approved {approvals['approved']}, rejected {approvals['rejected']},"
        f" expired {approvals['expired']}, pending {approvals['pending']})",
        f"  hours to decision   p50 {_figure(approvals['p50_hours_to_decision'])}"
        f" / p95 {_figure(approvals['p95_hours_to_decision'])}",
        f"  decided before due  {_share(approvals['share_decided_before_due'])},"
        f" escalated {approvals['escalated']}",
        "exceptions",
        f"  opened / resolved   {_figure(exceptions['opened'])} / {_figure(exceptions['resolved'])}"
        f"  (open at build: {_figure(exceptions['open_at_build'])})",
        f"  hours to resolve    p50 {_figure(exceptions['p50_hours_to_resolve'])}",
        "event → run",
        f"  events x runs       {_figure(latency['events'])}",
        f"  to start  p50 / p95 {_figure(latency['p50_seconds_to_start'])} s"
        f" / {_figure(latency['p95_seconds_to_start'])} s",
        f"  to finish p50 / p95 {_figure(latency['p50_seconds_to_finish'])} s"
        f" / {_figure(latency['p95_seconds_to_finish'])} s",
        "vendor writes",
        *(
            f"  {row['vendor']:<19} {_figure(row['writes'])}"
            + (f"  ({row['failed']} failed)" if row["failed"] else "")
            for row in kpis.vendor_writes
        ),
        *(["  none"] if not kpis.vendor_writes else []),
        f"spend, fiscal year {kpis.period.end.year}",
        *(
            f"  {row['cost_centre']:<8} {row['cost_centre_name'] or '(not in policy)':<24}"
            f" {_figure(row['committed_amount'])} of {_figure(row['annual_budget'])}"
            f" {row['budget_currency'] or ''} ({_share(row['share_committed'])})"
            for row in kpis.spend
        ),
    ]
    return "\n".join(lines)


@analytics.command("kpis")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="first UTC day")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="last UTC day (included)")
@click.option("--workflow", type=click.Choice(WORKFLOW_NAMES), help="one workflow only")
@click.option("--json", "as_json", is_flag=True, help="print everything as JSON, with the series")
def analytics_kpis(
    start: datetime | None, end: datetime | None, workflow: str | None, as_json: bool
) -> None:
    """The headline KPIs over a period (default: the 30 days up to the last build)."""
    from orchestrator_core.analytics.kpis import read_kpis

    settings = load_settings()
    quiet_unless_asked(settings)
    try:
        kpis = read_kpis(
            settings.kpis_path,
            start.date() if start else None,
            end.date() if end else None,
            workflow,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from/--to") from None
    if kpis is None:
        raise click.ClickException(
            f"no analytics marts at {settings.kpis_path} yet: run `orchestrator analytics build`"
        )
    if as_json:
        click.echo(json.dumps(asdict(kpis), default=_json_default, indent=2))
        return
    click.echo(render_kpis(kpis))


@analytics.command("sql")
@click.argument("statement")
@click.option("--json", "as_json", is_flag=True, help="rows as JSON objects")
@click.option("--max-rows", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
def analytics_sql(statement: str, as_json: bool, max_rows: int) -> None:
    """Run a read-only SQL statement against the marts (schemas marts, staging, meta)."""
    import duckdb

    from orchestrator_core.analytics.query import MartsNotBuilt, run_query

    settings = load_settings()
    quiet_unless_asked(settings)
    try:
        result = run_query(settings.kpis_path, statement, max_rows=max_rows)
    except MartsNotBuilt as exc:
        raise click.ClickException(str(exc)) from None
    except duckdb.Error as exc:
        raise click.ClickException(f"query refused: {exc}") from None
    if as_json:
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        click.echo(json.dumps(rows, default=_json_default, indent=2))
        return
    table = [result.columns, *([_figure(v) for v in row] for row in result.rows)]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(result.columns))]
    for index, row in enumerate(table):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            click.echo("  ".join("-" * w for w in widths))
    click.echo(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")


@analytics.command("path")
def analytics_path() -> None:
    """Print the marts' DuckDB file (ANALYTICS_PATH) and when it was built."""
    from orchestrator_core.analytics.kpis import open_marts, read_build_info

    settings = load_settings()
    quiet_unless_asked(settings)
    path = settings.kpis_path
    click.echo(str(path))
    conn = open_marts(path)
    if conn is None:
        click.echo("not built yet: orchestrator analytics build", err=True)
        return
    try:
        info = read_build_info(conn)
    finally:
        conn.close()
    click.echo(f"data as of {_utc(info.built_at)}, built in {info.build_seconds:.1f} s", err=True)
