"""`orchestrator policy …`: check the policy file before a process loads it."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def policy() -> None:
    """The business policy file (routing, thresholds, approvers, templates)."""


@policy.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def policy_check(path: Path | None) -> None:
    """Validate PATH (default: POLICY_PATH) and print its version and sha256."""
    from orchestrator_core.policy import PolicyError, load_policy

    if path is None:
        from orchestrator_cli.context import load_settings

        path = load_settings().policy_path
    try:
        loaded = load_policy(path)
    except PolicyError as exc:
        raise click.ClickException(f"invalid policy:\n{exc}") from None
    enabled = [name for name, switch in loaded.policy.workflows.items() if switch.enabled]
    click.echo(f"{path}: valid")
    click.echo(f"version: {loaded.version}")
    click.echo(f"sha256:  {loaded.content_hash}")
    click.echo(f"routing: {len(loaded.policy.routing.rules)} rules")
    click.echo(f"enabled: {', '.join(enabled) or 'no workflow'}")
