"""How a user runs recovery: the Dagster schedule (its default and setting), the job in a real
Dagster run, and `orchestrator recover` on the command line."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import dagster as dg
import pydantic
import pytest
from click.testing import CliRunner, Result

from orchestrator_cli.main import cli
from orchestrator_core.settings import get_settings
from orchestrator_defs.definitions import build_definitions
from orchestrator_defs.recovery import recover_missed_webhooks
from orchestrator_defs.runtime.resource import WorkflowRuntimeResource
from resources.dagster_resources import connector_resources
from tests.conftest import make_settings
from tests.recovery.conftest import Conn, create, recovered
from tests.support import PORTAL_ID
from tests.vendor_sandbox import SandboxServer

UNUSED_DB = "postgresql://unused@localhost/x"


def test_the_schedule_runs_every_15_minutes_by_default_and_follows_its_setting() -> None:
    default = build_definitions(make_settings(UNUSED_DB)).get_repository_def()
    schedule = default.get_schedule_def("recover_missed_webhooks_schedule")

    assert schedule.cron_schedule == "*/15 * * * *"
    assert schedule.job_name == "recover_missed_webhooks"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.execution_timezone == "UTC"
    assert default.has_job("recover_missed_webhooks")

    custom = build_definitions(make_settings(UNUSED_DB, recovery_schedule="*/5 * * * *"))
    repository = custom.get_repository_def()
    assert repository.get_schedule_def("recover_missed_webhooks_schedule").cron_schedule == (
        "*/5 * * * *"
    )
    with pytest.raises(pydantic.ValidationError, match="5-field cron"):
        make_settings(UNUSED_DB, recovery_schedule="every 15 minutes")


def test_the_job_recovers_through_the_connector_resource(
    db: Conn,
    database_url: str,
    hubspot_sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "DATABASE_URL": database_url,
        "HUBSPOT_PORTAL_ID": str(PORTAL_ID),
        "RECOVERY_SETTLE_SECONDS": "0",
        "RECOVERY_FIRST_LOOKBACK_HOURS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    get_settings.cache_clear()
    company = create(hubspot_sandbox, "companies", name="Northwind Labs")
    settings = make_settings(database_url, sandbox_url=hubspot_sandbox.base_url)
    try:
        result = recover_missed_webhooks.execute_in_process(
            resources={
                "workflow_runtime": WorkflowRuntimeResource(database_url=database_url),
                "hubspot": connector_resources(settings)["hubspot"],
            }
        )
    finally:
        get_settings.cache_clear()

    assert result.success
    assert result.output_for_node("recover_missed_webhooks_op") == {"found": 1, "stored": 1}
    (row,) = recovered(db)
    assert (row["type"], row["object_id"]) == ("company.creation", int(company))
    marks = db.execute("SELECT object_type FROM orchestrator.recovery_watermarks").fetchall()
    assert sorted(m for (m,) in marks) == ["companies", "contacts", "deals"]
    actor = db.execute(
        "SELECT actor FROM orchestrator.audit_log WHERE action = 'recovery.completed'"
    ).fetchone()
    assert actor == ("schedule",)


def _recover(database_url: str, sandbox: SandboxServer, *args: str) -> Result:
    get_settings.cache_clear()  # settings are read once per process
    try:
        return CliRunner().invoke(
            cli,
            ["recover", *args],
            env={
                "DATABASE_URL": database_url,
                "SANDBOX_URL": sandbox.base_url,
                "HUBSPOT_ACCESS_TOKEN": "",
                "HUBSPOT_PORTAL_ID": str(PORTAL_ID),
                "RECOVERY_SETTLE_SECONDS": "0",
            },
        )
    finally:
        get_settings.cache_clear()


def test_the_command_line_previews_then_recovers(
    db: Conn, database_url: str, hubspot_sandbox: SandboxServer
) -> None:
    company = create(hubspot_sandbox, "companies", name="Adventure Works")

    preview = _recover(database_url, hubspot_sandbox, "--since", "1h", "--dry-run", "--json")
    assert preview.exit_code == 0, preview.output
    planned = json.loads(preview.stdout)
    assert planned["dryRun"] is True and planned["found"] == 1 and planned["stored"] == 0
    assert planned["changes"][0]["subscriptionType"] == "company.creation"
    assert recovered(db) == []

    done = _recover(database_url, hubspot_sandbox, "--since", "1h", "--object-type", "companies")
    assert done.exit_code == 0, done.output
    assert "1 missed (1 creation(s), 0 property change(s)), 1 stored" in done.stdout
    assert re.search(rf"company\.creation +{company} +at ", done.stdout), done.stdout
    (row,) = recovered(db)
    assert row["object_id"] == int(company)
    actor = db.execute(
        "SELECT actor, after->'types'->0->>'objectType' FROM orchestrator.audit_log"
        " WHERE action = 'recovery.completed'"
    ).fetchone()
    assert actor is not None and actor[0].startswith("cli:") and actor[1] == "companies"

    again = _recover(database_url, hubspot_sandbox, "--since", "1h", "--object-type", "companies")
    assert again.exit_code == 0 and "0 missed" in again.stdout
    assert len(recovered(db)) == 1


def test_the_command_line_refuses_a_bad_time(
    database_url: str, hubspot_sandbox: SandboxServer
) -> None:
    result = _recover(database_url, hubspot_sandbox, "--since", "yesterday-ish")
    assert result.exit_code == 2
    assert "neither an ISO time nor a duration" in result.output
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    backwards = _recover(database_url, hubspot_sandbox, "--since", future)
    assert backwards.exit_code == 1 and "is not before --until" in backwards.output
