"""The `reconcile_mirrors` job through Dagster: one pass, and a non-blocking check per mirror
asset whose metadata carries the drift counts (what the Dagster UI shows as mirror health)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg

from orchestrator_defs.definitions import build_definitions
from tests.conftest import make_settings
from tests.vendor_sandbox import SandboxServer


def test_the_job_reports_each_mirrors_drifts_as_asset_checks(
    database_url: str, db: psycopg.Connection[Any], sandbox: SandboxServer
) -> None:
    defs = build_definitions(make_settings(database_url, sandbox_url=sandbox.base_url))
    job = defs.resolve_job_def("reconcile_mirrors")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance)

    assert result.success
    checks = {
        evaluation.asset_key.to_user_string(): evaluation
        for evaluation in result.get_asset_check_evaluations()
    }
    assert set(checks) == {"airtable/accounts", "airtable/contacts", "google/calendar_events"}
    # the seed's portal, nothing mirrored yet: every company and contact is missing
    accounts, contacts = checks["airtable/accounts"], checks["airtable/contacts"]
    assert not accounts.passed
    assert accounts.severity == dg.AssetCheckSeverity.WARN
    companies = accounts.metadata["hubspot_records"].value
    assert companies > 30
    assert accounts.metadata["open_drifts"].value == companies
    assert accounts.metadata["open_missing_downstream"].value == companies
    people = contacts.metadata["hubspot_records"].value
    assert not contacts.passed and contacts.metadata["open_drifts"].value == people
    calendar = checks["google/calendar_events"]
    assert calendar.passed and calendar.metadata["open_drifts"].value == 0
    (pass_row,) = db.execute(
        "SELECT actor, status, (counts->>'found')::int FROM orchestrator.reconciliations"
    ).fetchall()
    assert pass_row == ("schedule", "succeeded", companies + people)
    spec = defs.get_repository_def().asset_graph
    keys = {key.name for key in spec.asset_check_keys}
    assert "mirror_drifts" in keys
