"""`orchestrator reconcile` against the sandbox: a readable summary per mirror, kind and cause,
and `--json` with the pass's counts; the drifts stored as the scheduled pass stores them."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from click.testing import CliRunner, Result

from orchestrator_cli.main import cli
from orchestrator_core.settings import get_settings
from tests.vendor_sandbox import SandboxServer


def reconcile(database_url: str, sandbox: SandboxServer, *args: str) -> Result:
    get_settings.cache_clear()  # settings are read once per process
    env = {"DATABASE_URL": database_url, "SANDBOX_URL": sandbox.base_url, "LOG_LEVEL": "WARNING"}
    try:
        return CliRunner().invoke(cli, ["reconcile", *args], env=env)
    finally:
        get_settings.cache_clear()


def test_the_summary_names_each_mirror_kind_and_cause(
    db: psycopg.Connection[Any], database_url: str, sandbox: SandboxServer
) -> None:
    result = reconcile(database_url, sandbox)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("reconciliation 1: ")
    assert any(line.startswith("  airtable/accounts: ") for line in lines)
    assert any("missing_downstream" in line and "(event_never_received " in line for line in lines)
    assert "… and " in result.output  # examples are capped; the API lists every drift
    actor = db.execute("SELECT actor FROM orchestrator.reconciliations").fetchone()
    assert actor is not None and actor[0].startswith("cli:")

    again = reconcile(database_url, sandbox, "--json")
    assert again.exit_code == 0, again.output
    counts = json.loads(again.output)
    assert counts["reconciliation_id"] == 2
    assert counts["added"] == 0 and counts["seen_again"] == counts["found"] > 0
    assert set(counts["targets"]) == {
        "airtable/accounts",
        "airtable/contacts",
        "google/calendar_events",
    }
