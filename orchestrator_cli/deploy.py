"""`orchestrator deploy config`: the `dagster.yaml` of a deployment beyond one host.

The same instance `orchestrator dev` writes (storage on the product's Postgres through
DAGSTER_PG_URL, the run queue with its per-object limit, run monitoring, run retries), with the
run launcher of the engine the runs go to and the run queue sized by
DAGSTER_MAX_CONCURRENT_RUNS, from settings (`orchestrator_cli.dagster_instance`). Secrets are
named, never written: variables by name, Kubernetes Secrets by name, AWS secrets by ARN. Nothing
is imported from Dagster: the file is checked against the launchers' schemas by the tests
(`tests/test_deploy_config.py`) and by Dagster when a process loads it. Guide:
docs/deployment.md.
"""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator_cli.context import load_settings
from orchestrator_cli.dagster_instance import (
    LAUNCHERS,
    Launcher,
    deployment_config,
    render_instance,
)


@click.group()
def deploy() -> None:
    """Configuration for running the product beyond one machine (docs/deployment.md)."""


@deploy.command("config")
@click.option(
    "--launcher",
    type=click.Choice(LAUNCHERS),
    default="default",
    show_default=True,
    help="Where Dagster runs go: subprocesses of the code location server (default), Docker"
    " containers, Kubernetes Jobs or ECS tasks.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the file here (its directory is created); default: standard output.",
)
def config(launcher: Launcher, output: Path | None) -> None:
    """Emit the dagster.yaml of a deployment with the given run launcher, from settings."""
    settings = load_settings()
    text = render_instance(
        deployment_config(launcher, settings),
        f"# Emitted by `orchestrator deploy config --launcher {launcher}` (hubspot-orchestrator):"
        " secrets are referenced, never written. Emit it again after changing a setting.",
    )
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    click.echo(f"wrote {output} (run launcher: {launcher})", err=True)
