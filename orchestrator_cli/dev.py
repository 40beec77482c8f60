"""`orchestrator dev`: the whole product on this machine, until Ctrl-C."""

from __future__ import annotations

import time

import click

from orchestrator_cli.context import clean_exit_on_signals, load_settings, quiet_unless_asked
from orchestrator_cli.dev_credentials import DEV_ADMIN_EMAIL
from orchestrator_cli.stack import STOP_SIGNALS, Ports, Stack, port_options, running_stack
from orchestrator_core.settings import Settings


def describe(stack: Stack, settings: Settings) -> str:
    embedded = stack.database.embedded
    lines = [
        f"database         {embedded.pgdata if embedded else 'DATABASE_URL'}",
        f"console          {stack.api_url}/console",
        f"ingest API       {stack.api_url}  (webhook: /webhooks/hubspot, docs: /docs)",
        f"Dagster UI       {stack.dagster_url}",
    ]
    if stack.admin_password_file:
        lines.append(
            f"login            {DEV_ADMIN_EMAIL}, password in {stack.admin_password_file}"
            " (console and API)"
        )
    if stack.sandboxed:
        lines.append(f"vendor sandbox   {stack.sandbox_url}  (for {', '.join(stack.sandboxed)})")
    lines.append(
        f"KPI marts        {settings.kpis_path}  (dbt, schedule '{settings.analytics_schedule}'"
        " UTC; now: orchestrator analytics build)"
    )
    lines.append(f"logs             {stack.logs_dir}")
    return "\n".join(lines)


@click.command()
@port_options
def dev(api_port: int, dagster_port: int, sandbox_port: int) -> None:
    """Run Postgres, the API, Dagster (webserver and daemon) and the sandbox until Ctrl-C.

    A service that exits is started again (at most 5 times in 10 minutes)."""
    settings = load_settings()
    quiet_unless_asked(settings)
    ports = Ports(api=api_port, dagster=dagster_port, sandbox=sandbox_port)
    with clean_exit_on_signals(STOP_SIGNALS), running_stack(settings, ports) as stack:
        click.echo(describe(stack, settings))
        click.echo("\nRunning; Ctrl-C stops everything.")
        while True:
            stack.restart_exited()
            time.sleep(1.0)
