"""`orchestrator replay` against the test database: the plan as a table with its summary line,
a replay started and shown, and clear refusals."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from click.testing import CliRunner, Result

from orchestrator_cli.main import cli
from orchestrator_core.settings import get_settings
from tests.workflows.conftest import WorkflowHarness, event


def replay(database_url: str, *args: str) -> Result:
    get_settings.cache_clear()  # settings are read once per process
    try:
        return CliRunner().invoke(cli, ["replay", *args], env={"DATABASE_URL": database_url})
    finally:
        get_settings.cache_clear()


def test_a_dry_run_prints_the_plan_then_a_replay_starts_and_shows_its_progress(
    harness: WorkflowHarness, database_url: str, db: psycopg.Connection[Any]
) -> None:
    run = harness.start([event("company.creation", 9001)], "company_intake")
    harness.drive(run)
    envelope = str(run.envelope_ids[0])

    planned = replay(database_url, "--object", "company:9001", "--dry-run")

    assert planned.exit_code == 0, planned.output
    lines = planned.output.splitlines()
    assert lines[0].split()[:3] == ["run", "workflow", "object"]
    assert lines[1].split()[:6] == [
        "1",
        "company_intake",
        "company/9001",
        envelope,
        str(run.id),
        "mirror_account",
    ]
    assert [line.split()[-2] for line in lines[1:4]] == ["re-apply", "reuse", "re-apply"]
    assert lines[-1] == (
        "dry run: 1 events selected, 0 skipped; 1 runs; writes: 1 reused, 2 re-applied, 0 new"
    )
    assert db.execute("SELECT count(*) FROM orchestrator.replays").fetchone() == (0,)

    started = replay(database_url, "--envelope", envelope, "--json")

    assert started.exit_code == 0, started.output
    answer = json.loads(started.output)
    assert answer["replay_id"] == 1 and answer["counts"]["runs"] == 1
    actor = db.execute("SELECT actor FROM orchestrator.replays").fetchone()
    assert actor is not None and actor[0].startswith("cli:")
    shown = replay(database_url, "show", "1")
    assert shown.exit_code == 0, shown.output
    assert "0/1 runs finished (1 requested); in progress" in shown.output
    (spec,) = harness.dispatch()
    harness.drive(spec.workflow_run_id)
    followed = replay(database_url, "show", "1", "--follow")
    assert "1/1 runs finished (1 succeeded); done" in followed.output


def test_refusals_name_the_problem(database_url: str, db: psycopg.Connection[Any]) -> None:
    empty = replay(database_url, "--dry-run")
    assert empty.exit_code == 1
    assert "select events by envelope_ids, objects or a time range" in empty.output
    bad_object = replay(database_url, "--object", "company-9001")
    assert bad_object.exit_code == 2 and "is not TYPE:ID" in bad_object.output
    bad_time = replay(database_url, "--since", "yesterday")
    assert bad_time.exit_code == 2 and "neither an ISO time nor a duration" in bad_time.output
    nothing = replay(database_url, "--since", "2h")
    assert nothing.exit_code == 1 and "no selected event can be replayed" in nothing.output
    missing = replay(database_url, "show", "42")
    assert missing.exit_code == 1 and "no replay with id 42" in missing.output
