"""`orchestrator demo`: the whole product (as `orchestrator dev`) fed the bundled sample webhook
deliveries, signed as HubSpot signs them; waits until every resulting run has finished or
parked at an approval, and prints what happened and where to look.

With `--exit-when-done` it stops everything after the summary and exits with status 0 only
when every sample reached the outcome listed in `samples/webhooks/expected.yaml` (usable in CI).
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import httpx

from ingest_api.signature import sign
from orchestrator_cli.context import clean_exit_on_signals, load_settings, quiet_unless_asked
from orchestrator_cli.demo_analytics import build_marts_through_dagster, kpis_text
from orchestrator_cli.demo_report import (
    Progress,
    check_expectations,
    load_expectations,
    print_summary,
    read_progress,
)
from orchestrator_cli.dev import describe
from orchestrator_cli.stack import STOP_SIGNALS, Ports, Stack, port_options, running_stack

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples" / "webhooks"


@click.command()
@port_options
@click.option(
    "--samples",
    "samples_dir",
    default=SAMPLES_DIR,
    show_default=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of delivery files (JSON arrays of HubSpot events), sent in name order.",
)
@click.option(
    "--exit-when-done",
    is_flag=True,
    help="Stop after the summary; exit 0 only if every sample reached its expected outcome.",
)
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(10, 7200),
    help="Seconds to wait for the runs to settle.",
)
def demo(
    api_port: int,
    dagster_port: int,
    sandbox_port: int,
    samples_dir: Path,
    exit_when_done: bool,
    timeout: float,
) -> None:
    """Run the product and replay the sample HubSpot deliveries through it."""
    settings = load_settings()
    quiet_unless_asked(settings)
    ports = Ports(api=api_port, dagster=dagster_port, sandbox=sandbox_port)
    expectations = load_expectations(samples_dir / "expected.yaml")
    with clean_exit_on_signals(STOP_SIGNALS), running_stack(settings, ports) as stack:
        click.echo(describe(stack, settings) + "\n")
        with httpx.Client(base_url=stack.api_url, timeout=15.0) as client:
            for path in sorted(samples_dir.glob("*.json")):
                _send(client, path, stack.webhook_secret)
        click.echo("\nwaiting for the runs to finish or park at an approval ...")
        progress = _wait_settled(stack, timeout)
        print_summary(progress, stack)
        failures = check_expectations(progress, expectations) if expectations else []
        failures += _analytics(stack, settings.kpis_path)
        for failure in failures:
            click.echo(f"  NOT AS EXPECTED: {failure}", err=True)
        if expectations and not failures:
            click.echo("\nevery sample reached its expected outcome.")
        if exit_when_done:
            raise SystemExit(0 if progress.settled and not failures else 1)
        click.echo("\nThe stack keeps running for you to explore; Ctrl-C stops everything.")
        while True:
            stack.check_alive()
            time.sleep(1.0)


def _analytics(stack: Stack, kpis_path: Path) -> list[str]:
    """Rebuild the KPI marts through Dagster and print the headline KPIs; what went wrong."""
    click.echo("\nbuilding the KPI marts (Dagster job analytics_build, dbt project dbt_audit/) ...")
    try:
        run = build_marts_through_dagster(stack.dagster_url)
    except (RuntimeError, httpx.HTTPError) as exc:
        return [f"analytics build: {exc}"]
    click.echo(f"  Dagster run {stack.dagster_url}/runs/{run.run_id}: {run.status}")
    if not run.succeeded:
        return [f"analytics build run {run.run_id} ended {run.status}"]
    text = kpis_text(kpis_path)
    if text is None:
        return [f"analytics build succeeded but no marts at {kpis_path}"]
    click.echo("\n" + text)
    click.echo(f"\n  marts (DuckDB)              {kpis_path}")
    click.echo(f"  KPIs API                    {stack.api_url}/api/kpis")
    return []


def _send(client: httpx.Client, path: Path, secret: str) -> None:
    body = path.read_text(encoding="utf-8")
    url = str(client.base_url.join("/webhooks/hubspot"))
    headers = {"Content-Type": "application/json", **sign(secret=secret, body=body, uri=url)}
    response = client.post("/webhooks/hubspot", content=body.encode(), headers=headers)
    payload = response.json()
    result = payload.get("error", {}).get("details", payload) if response.is_error else payload
    line = f"{path.name:<48} {response.status_code}"
    if "stored" in result:
        line += (
            f"  stored {result['stored']:>2}  duplicates {result['duplicates']:>2}"
            f"  rejected {result['rejected']}"
        )
    elif response.is_error:
        line += f"  {payload['error']['message']}"
    click.echo(line)
    for invalid in result.get("invalid_events", []):
        for error in invalid["errors"]:
            click.echo(f"    event #{invalid['index']}: {error['field']}: {error['message']}")


def _wait_settled(stack: Stack, timeout: float) -> Progress:
    deadline = time.monotonic() + timeout
    progress = read_progress(stack.database.url, stack.dagster_url)
    while not progress.settled and time.monotonic() < deadline:
        stack.check_alive()
        time.sleep(2.0)
        progress = read_progress(stack.database.url, stack.dagster_url)
    if not progress.settled:
        click.echo(f"not settled after {timeout:.0f} s: {progress.pending_description}", err=True)
    return progress
