"""`orchestrator` — the product's single command line.

Each subcommand's module is imported only when that subcommand runs (`LazyGroup`), and imports
what it needs when it runs, so `orchestrator serve` never loads Dagster, LangGraph or the
vendor connectors (`tests/test_cli.py` checks the running process).
"""

from __future__ import annotations

import importlib

import click

# Subcommand name → "module:attribute" of its click command.
SUBCOMMANDS: dict[str, str] = {
    "serve": "orchestrator_cli.serve:serve",
    "analytics": "orchestrator_cli.analytics:analytics",
    "users": "orchestrator_cli.users:users",
    "audit": "orchestrator_cli.audit:audit",
    "db": "orchestrator_cli.db:db",
    "demo": "orchestrator_cli.demo:demo",
    "deploy": "orchestrator_cli.deploy:deploy",
    "dev": "orchestrator_cli.dev:dev",
    "doctor": "orchestrator_cli.doctor:doctor",
    "enrich": "orchestrator_cli.enrich:enrich",
    "policy": "orchestrator_cli.policy:policy",
    "reconcile": "orchestrator_cli.reconcile:reconcile",
    "recover": "orchestrator_cli.recover:recover",
    "replay": "orchestrator_cli.replay:replay",
    "sandbox": "orchestrator_cli.sandbox:sandbox",
    "status": "orchestrator_cli.status:status",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module when the subcommand is asked for (click's
    documented pattern for lazily loaded subcommands)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Turn HubSpot CRM events into auditable internal workflows."""
