"""`orchestrator` — the product's single command line.

Subcommands import what they need when they run, so `orchestrator serve` never imports Dagster.
"""

from __future__ import annotations

import click

from orchestrator_cli.audit import audit
from orchestrator_cli.db import db
from orchestrator_cli.demo import demo
from orchestrator_cli.dev import dev
from orchestrator_cli.doctor import doctor
from orchestrator_cli.enrich import enrich
from orchestrator_cli.policy import policy
from orchestrator_cli.sandbox import sandbox
from orchestrator_cli.serve import serve
from orchestrator_cli.users import users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Turn HubSpot CRM events into auditable internal workflows."""


cli.add_command(serve)
cli.add_command(users)
cli.add_command(audit)
cli.add_command(db)
cli.add_command(demo)
cli.add_command(dev)
cli.add_command(doctor)
cli.add_command(enrich)
cli.add_command(policy)
cli.add_command(sandbox)
