"""LangGraph's checkpoint tables come from migration 0005, which freezes LangGraph's own
migrations so that migrating never imports LangGraph (the API process migrates)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.base import BasePostgresSaver
from psycopg.rows import dict_row

from orchestrator_core.db.urls import langgraph_url

MIGRATION = (
    Path(__file__).resolve().parents[2]
    / "orchestrator_core/db/migrations/versions/0005_langgraph_and_dagster_schemas.py"
)


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0005", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_frozen_migrations_are_langgraph_s_own() -> None:
    """Fails when an upgrade of langgraph-checkpoint-postgres brings a migration of its own:
    add it in a new revision (never edit 0005, which databases have applied)."""
    assert tuple(BasePostgresSaver.MIGRATIONS) == _migration().CHECKPOINT_MIGRATIONS


def test_a_migrated_database_is_what_langgraph_s_setup_would_leave(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    versions = "SELECT array_agg(v ORDER BY v) FROM langgraph.checkpoint_migrations"
    recorded = db.execute(versions).fetchone()
    assert recorded == (list(range(len(BasePostgresSaver.MIGRATIONS))),)

    with psycopg.connect(
        langgraph_url(database_url), autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as conn:
        PostgresSaver(conn).setup()  # finds every migration applied: runs none of them

    assert db.execute(versions).fetchone() == recorded
    columns = db.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'langgraph' AND table_name = 'checkpoint_writes'"
        " ORDER BY ordinal_position"
    ).fetchall()
    assert ("task_path",) in columns  # the last migration's column
