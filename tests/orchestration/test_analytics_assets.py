"""The dbt models in Dagster: assets downstream of the audit tables, dbt tests as checks, the
schedule, and materializations on a real instance that publish the marts only when every test
passed (a subset starting from the published file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import psycopg
import pytest
import yaml

from orchestrator_core.analytics.kpis import open_marts, read_build_info
from orchestrator_core.analytics.project import DBT_PROJECT_DIR
from orchestrator_core.settings import Settings
from orchestrator_defs.analytics_definitions import build_analytics_definitions
from orchestrator_defs.definitions import build_definitions
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]
SOURCES = {
    "event_envelopes": ["hubspot", "events"],
    "webhook_deliveries": ["hubspot", "deliveries"],
    "workflow_runs": ["audit", "workflow_runs"],
    "workflow_run_attempts": ["audit", "workflow_run_attempts"],
    "side_effects": ["audit", "side_effects"],
    "exceptions": ["audit", "exceptions"],
    "approvals": ["audit", "approvals"],
    "budget_commitments": ["audit", "budget_commitments"],
    "audit_log": ["audit", "audit_log"],
}


def _models() -> set[str]:
    return {path.stem for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")}


def _graph(settings: Settings) -> Any:
    merged = dg.Definitions.merge(
        build_definitions(settings), build_analytics_definitions(settings)
    )
    return merged.get_repository_def().asset_graph


def test_every_model_is_an_asset_downstream_of_the_audit_tables() -> None:
    graph = _graph(make_settings("postgresql://unused@localhost/unused"))
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {f"analytics/{model}" for model in _models()} <= keys
    # Each staging model reads its table's asset, which the workflow location defines.
    workflow_keys = build_definitions(make_settings("postgresql://unused@localhost/unused"))
    defined = {
        key
        for assets in workflow_keys.assets or []
        for key in (assets.keys if isinstance(assets, dg.AssetsDefinition) else [assets.key])
    }
    staging = {
        "stg_envelopes": "event_envelopes",
        "stg_deliveries": "webhook_deliveries",
        "stg_workflow_runs": "workflow_runs",
        "stg_run_attempts": "workflow_run_attempts",
        "stg_side_effects": "side_effects",
        "stg_exceptions": "exceptions",
        "stg_approvals": "approvals",
        "stg_budget_commitments": "budget_commitments",
        "stg_audit_log": "audit_log",
    }
    for model, table in staging.items():
        parent = dg.AssetKey(SOURCES[table])
        assert graph.get(dg.AssetKey(["analytics", model])).parent_keys == {parent}
        assert parent in defined, f"{parent} is not an asset of the workflow location"
    # The lineage runs on: audit tables are downstream of the workflow outputs, marts of
    # staging models.
    assert (
        dg.AssetKey(["airtable", "accounts"])
        in graph.get(dg.AssetKey(["audit", "side_effects"])).parent_keys
    )
    assert graph.get(dg.AssetKey(["analytics", "fct_workflow_runs"])).parent_keys == {
        dg.AssetKey(["analytics", "stg_workflow_runs"]),
        dg.AssetKey(["analytics", "stg_run_attempts"]),
    }
    # dbt tests are asset checks of the models they test.
    checks = {check.asset_key.to_user_string() for check in graph.asset_check_keys}
    assert {f"analytics/{model}" for model in _models()} <= checks


def test_the_schedule_rebuilds_hourly_by_default_and_is_configurable() -> None:
    default = build_analytics_definitions(make_settings("postgresql://unused@localhost/x"))
    schedule = default.get_schedule_def("analytics_schedule")
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "analytics_build"
    custom = build_analytics_definitions(
        make_settings("postgresql://unused@localhost/x", analytics_schedule="*/15 * * * *")
    )
    assert custom.get_schedule_def("analytics_schedule").cron_schedule == "*/15 * * * *"
    with pytest.raises(ValueError, match="cron"):
        make_settings("postgresql://unused@localhost/x", analytics_schedule="hourly")


def test_the_workspace_loads_both_code_locations() -> None:
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    modules = [entry["python_module"]["module_name"] for entry in workspace["load_from"]]
    assert modules == ["orchestrator_defs.definitions", "orchestrator_defs.analytics_definitions"]


def _built_at(path: Path) -> Any:
    conn = open_marts(path)
    assert conn is not None
    try:
        return read_build_info(conn)
    finally:
        conn.close()


def _insert_run(db: psycopg.Connection[Any], workflow: str) -> None:
    db.execute(
        "INSERT INTO orchestrator.workflow_runs (run_key, workflow, thread_id, trigger, status,"
        " outcome, policy_version, policy_hash, requested_at, started_at, finished_at)"
        " VALUES (%s, %s, %s, '{}', 'succeeded', 'mirrored', 'v', 'h',"
        " now() - interval '2 hours', now() - interval '2 hours',"
        " now() - interval '2 hours' + interval '30 seconds')",
        (f"test:{workflow}", workflow, f"{workflow}/none/1"),
    )


def test_materializing_publishes_the_marts_and_a_failing_test_keeps_the_last_good_ones(
    dagster_instance: dg.DagsterInstance,
    db: psycopg.Connection[Any],
    database_url: str,
    tmp_path: Path,
) -> None:
    kpis = tmp_path / "analytics" / "kpis.duckdb"
    definitions = build_analytics_definitions(make_settings(database_url, analytics_path=kpis))
    job = definitions.resolve_job_def("analytics_build")
    _insert_run(db, "company_intake")

    first = job.execute_in_process(instance=dagster_instance, raise_on_error=False)
    assert first.success
    materialized = {
        event.asset_key.to_user_string() for event in first.get_asset_materialization_events()
    }
    assert materialized == {f"analytics/{model}" for model in _models()}
    evaluations = first.get_asset_check_evaluations()
    assert evaluations and all(evaluation.passed for evaluation in evaluations)
    good = _built_at(kpis)
    assert not good.partial_build
    with duckdb.connect(str(kpis), read_only=True) as conn:
        assert conn.sql("SELECT count(*) FROM marts.fct_workflow_runs").fetchone() == (1,)

    # A workflow the project does not know fails the accepted_values test of the staging
    # model: the run fails, the failed check is recorded, and the published file is unchanged.
    _insert_run(db, "no_such_workflow")
    second = job.execute_in_process(instance=dagster_instance, raise_on_error=False)
    assert not second.success
    failed = [e for e in second.get_asset_check_evaluations() if not e.passed]
    assert any("accepted_values" in e.check_name and "workflow" in e.check_name for e in failed)
    assert _built_at(kpis) == good
    run = dagster_instance.get_run_by_id(second.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE

    # A subset builds from a copy of the published file: the other marts stay as they were.
    db.execute("DELETE FROM orchestrator.workflow_runs WHERE workflow = 'no_such_workflow'")
    subset = job.execute_in_process(
        instance=dagster_instance,
        asset_selection=[dg.AssetKey(["analytics", "stg_envelopes"])],
        raise_on_error=False,
    )
    assert subset.success
    assert {e.asset_key for e in subset.get_asset_materialization_events()} == {
        dg.AssetKey(["analytics", "stg_envelopes"])
    }
    partial = _built_at(kpis)
    assert partial.partial_build and partial.built_at > good.built_at
    with duckdb.connect(str(kpis), read_only=True) as conn:
        assert conn.sql("SELECT count(*) FROM marts.fct_workflow_runs").fetchone() == (1,)
