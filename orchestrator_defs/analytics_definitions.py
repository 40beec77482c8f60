"""The analytics code location: the dbt models of `dbt_audit/` as assets (downstream of the
workflow location's `hubspot/*` and `audit/*` assets, which Dagster joins across locations in
one lineage graph), the job that rebuilds them and its schedule.

A location of its own so that dagster-dbt and dbt's manifest are loaded by the processes that
build the marts, not by every workflow run (see `definitions.py`)."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestrator_core.analytics.project import dbt_executable
from orchestrator_core.settings import Settings, get_settings
from orchestrator_defs.assets.analytics import (
    DBT_PROJECT,
    AnalyticsResource,
    analytics_build,
    analytics_marts,
    analytics_schedule,
)
from orchestrator_defs.runtime.database import configured_database_url


def build_analytics_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[analytics_marts],
        jobs=[analytics_build],
        schedules=[analytics_schedule(settings.analytics_schedule)],
        resources={
            "analytics": AnalyticsResource(
                database_url=configured_database_url(settings),
                kpis_path=str(settings.kpis_path),
            ),
            "dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable()),
        },
    )


defs = build_analytics_definitions(get_settings())
