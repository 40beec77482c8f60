"""A dbt-duckdb plugin (profiles.yml `plugins`) that loads the offline postgres extension on
the build's connection before dbt-duckdb attaches the product's database."""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from orchestrator_core.analytics.extension import load_postgres_scanner


class Plugin(BasePlugin):
    def configure_connection(self, conn: Any) -> None:
        load_postgres_scanner(conn)
