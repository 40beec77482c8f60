"""Dagster fixtures: the process environment a Dagster process of the product gets (as
`orchestrator dev` sets it) and a real Dagster instance on the test database (schema dagster),
configured by the same `dagster.yaml` the product writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestrator_cli.dagster_instance import dagster_environment, write_instance
from orchestrator_core.settings import get_settings
from orchestrator_defs.runtime.database import process_database_url


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    return tmp_path / "dagster_home"


@pytest.fixture
def dagster_env(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    dagster_home: Path,
    db: psycopg.Connection[Any],
) -> Iterator[dict[str, str]]:
    env = {
        **dagster_environment(dagster_home, database_url),
        "DATABASE_URL": database_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("POLICY_PATH", "OPENAI_API_KEY", "HUBSPOT_ACCESS_TOKEN", "AIRTABLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    process_database_url.cache_clear()
    yield env
    get_settings.cache_clear()
    process_database_url.cache_clear()


@pytest.fixture
def dagster_instance(
    dagster_env: dict[str, str], dagster_home: Path
) -> Iterator[dg.DagsterInstance]:
    write_instance(dagster_home)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        yield instance
    finally:
        instance.dispose()
