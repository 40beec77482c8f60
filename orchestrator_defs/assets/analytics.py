"""The dbt models of `dbt_audit/` as Dagster assets, downstream of the audit tables.

Each staging model and mart is an asset `analytics/<model>` (group `analytics`), each dbt test
an asset check, and each dbt source names its table's asset (`hubspot/events`, `audit/*`) in
its `meta`, so the lineage runs HubSpot events → workflow outputs → audit tables → staging →
marts. A materialization builds into a new DuckDB file and publishes it only when dbt
succeeded (`orchestrator_core.analytics.publish`), exactly as `orchestrator analytics build`
does: a failing test shows as a failed check and a failed run, and the marts stay as they were.
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from orchestrator_core.analytics.project import (
    DBT_PROJECT_DIR,
    dbt_environment,
    dbt_vars,
    ensure_manifest,
    vars_argument,
)
from orchestrator_core.analytics.publish import staged_build
from orchestrator_core.analytics.source import PostgresSource, read_as_of
from orchestrator_core.settings import get_settings
from orchestrator_defs.runtime.database import process_database_url
from orchestrator_defs.runtime.policy import current_policy

ANALYTICS_GROUP = "analytics"

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class AnalyticsTranslator(DagsterDbtTranslator):
    """Models under `analytics/`, in one group; sources keep the keys their `meta` gives."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey([ANALYTICS_GROUP, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return ANALYTICS_GROUP
        return super().get_group_name(dbt_resource_props)


class AnalyticsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the marts are published and which Postgres they are built from."""

    database_url: str | None = Field(default=None, description="The product's Postgres.")
    kpis_path: str | None = Field(
        default=None, description="The published DuckDB file (default: ANALYTICS_PATH)."
    )

    def target(self) -> Path:
        return Path(self.kpis_path) if self.kpis_path else get_settings().kpis_path

    def url(self) -> str:
        return self.database_url or process_database_url()


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """`variables` in this process's environment for the block: DbtCliResource hands dbt a
    copy of os.environ and nothing else (the run has this process to itself)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dbt_assets(
    manifest=ensure_manifest(),
    project=DBT_PROJECT,
    dagster_dbt_translator=AnalyticsTranslator(),
    name="analytics_marts",
)
def analytics_marts(
    context: AssetExecutionContext, dbt: DbtCliResource, analytics: AnalyticsResource
) -> Iterator[Any]:
    """dbt build of the selected models and their tests into a new file, published when
    every one passed."""
    url = analytics.url()
    policy = current_policy()
    with staged_build(
        analytics.target(), policy_version=policy.version, partial=context.is_subset
    ) as staged:
        as_of = staged.as_of = read_as_of(url)
        env = dbt_environment(staged.path, PostgresSource.from_url(url).environment())
        env["KPI_DBT_THREADS"] = str(get_settings().analytics_dbt_threads)
        # dbt's target (compiled SQL, run results, log) in a scratch directory, not piling up
        # under dbt_audit/target with every run.
        with _environment(env), tempfile.TemporaryDirectory(prefix="dbt-audit-") as scratch:
            invocation = dbt.cli(
                ["build", *vars_argument(dbt_vars(policy, as_of))],
                context=context,
                raise_on_error=False,
                target_path=Path(scratch),
            )
            for event in invocation.stream():
                if isinstance(event, dg.Output | dg.AssetMaterialization):
                    staged.models += 1
                elif isinstance(event, dg.AssetCheckResult) and event.passed:
                    staged.tests_passed += 1
                yield event
        if not invocation.is_successful():
            raise dg.Failure(
                "dbt build failed (see the failed checks and the dbt log above): the marts"
                f" at {staged.target} were not replaced",
            )
    context.log.info(f"published {staged.target}: data as of {as_of.isoformat()}")


analytics_build = dg.define_asset_job(
    "analytics_build",
    selection=dg.AssetSelection.assets(analytics_marts),
    description="Rebuild the KPI marts (dbt build of dbt_audit/) and publish the DuckDB file.",
    executor_def=dg.in_process_executor,  # one op: no process of its own for the step
)


def analytics_schedule(cron: str) -> dg.ScheduleDefinition:
    """Rebuild the marts on `cron` (ANALYTICS_SCHEDULE, UTC; hourly by default)."""
    return dg.ScheduleDefinition(
        name="analytics_schedule",
        job=analytics_build,
        cron_schedule=cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="UTC",
    )
