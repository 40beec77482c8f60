"""`orchestrator analytics build | kpis | sql | path` against the test database: progress per
model, the headline KPIs as text and JSON, read-only SQL, and clear errors before a build."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import duckdb
import psycopg
from click.testing import CliRunner, Result
from psycopg import sql

from orchestrator_cli.main import cli
from orchestrator_core.analytics.project import ensure_manifest
from orchestrator_core.db.urls import with_database
from orchestrator_core.settings import get_settings

Conn = psycopg.Connection[Any]


def analytics(database_url: str, kpis: Path, *args: str) -> Result:
    get_settings.cache_clear()  # settings are read once per process
    try:
        return CliRunner().invoke(
            cli,
            ["analytics", *args],
            env={"DATABASE_URL": database_url, "ANALYTICS_PATH": str(kpis)},
        )
    finally:
        get_settings.cache_clear()


def _two_runs(db: Conn) -> None:
    db.execute(
        "INSERT INTO orchestrator.workflow_runs (run_key, workflow, thread_id, trigger, status,"
        " policy_version, policy_hash, requested_at, started_at, finished_at)"
        " SELECT 'k' || n, 'contact_role_mapping', 'contact_role_mapping/none/' || n, '{}',"
        " s, 'v', 'h', now() - interval '1 hour', now() - interval '1 hour',"
        " now() - interval '1 hour' + make_interval(secs => n * 10)"
        " FROM (VALUES (1, 'succeeded'), (2, 'failed')) AS r (n, s)"
    )


def test_before_a_build_every_reader_says_how_to_build(
    db: Conn, database_url: str, tmp_path: Path
) -> None:
    kpis = tmp_path / "kpis.duckdb"
    for command in (["kpis"], ["sql", "SELECT 1"]):
        result = analytics(database_url, kpis, *command)
        assert result.exit_code == 1, result.output
        assert "orchestrator analytics build" in result.output
    where = analytics(database_url, kpis, "path")
    assert where.exit_code == 0
    assert where.stdout.strip() == str(kpis)
    assert "not built yet" in where.output


def test_a_build_refuses_an_unreachable_or_unmigrated_database_clearly(
    admin_url: str, tmp_path: Path
) -> None:
    kpis = tmp_path / "kpis.duckdb"
    closed = "postgresql://postgres:s3cret-pw@127.0.0.1:9/orchestrator"
    unreachable = analytics(closed, kpis, "build")
    assert unreachable.exit_code == 1
    assert "cannot read the product's database" in unreachable.output
    assert "s3cret-pw" not in unreachable.output
    # A database without the product's schema: the build names the fix, migrates nothing.
    name = f"analytics_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        empty = with_database(admin_url, name)
        unmigrated = analytics(empty, kpis, "build")
        assert unmigrated.exit_code == 1
        assert "schema revision None (head" in unmigrated.output
        assert "orchestrator db upgrade" in unmigrated.output
        with psycopg.connect(empty) as conn:
            assert conn.execute(
                "SELECT to_regclass('orchestrator.alembic_version')"
            ).fetchone() == (None,)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    assert not kpis.exists()


def test_build_then_read_the_kpis_query_the_marts_and_find_the_file(
    db: Conn, database_url: str, tmp_path: Path
) -> None:
    _two_runs(db)
    kpis = tmp_path / "analytics" / "kpis.duckdb"

    built = analytics(database_url, kpis, "build")
    assert built.exit_code == 0, built.output
    assert "ok   model stg_workflow_runs" in built.output  # one progress line per model
    assert "ok   test  unique_fct_workflow_runs_workflow_run_id" in built.output
    assert f"published {kpis}: 26 models" in built.output
    assert kpis.is_file()

    text = analytics(database_url, kpis, "kpis")
    assert text.exit_code == 0, text.output
    assert "succeeded / failed  1 / 1  (success 50.0 % of finished runs)" in text.output
    assert "duration p50 / p95  15.00 s / 19.50 s" in text.output

    as_json = analytics(database_url, kpis, "kpis", "--json", "--workflow", "deal_kickoff")
    figures = json.loads(as_json.stdout)
    assert figures["workflow"] == "deal_kickoff" and figures["runs"]["total"] == 0
    assert len(figures["series"]) == 30

    query = analytics(
        database_url,
        kpis,
        "sql",
        "SELECT status, count(*) AS runs FROM marts.fct_workflow_runs"
        " GROUP BY status ORDER BY status",
    )
    assert query.exit_code == 0, query.output
    assert query.output.splitlines()[2:] == ["failed     1", "succeeded  1", "(2 rows)"]
    rows = json.loads(analytics(database_url, kpis, "sql", "--json", "SELECT 1 AS one").stdout)
    assert rows == [{"one": 1}]

    # Read-only: no table written, no file read or written, no database attached.
    for statement in (
        "CREATE TABLE marts.x AS SELECT 1",
        f"COPY marts.fct_workflow_runs TO '{tmp_path / 'out.csv'}'",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
    ):
        refused = analytics(database_url, kpis, "sql", statement)
        assert refused.exit_code == 1 and "query refused" in refused.output, statement
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()

    where = analytics(database_url, kpis, "path")
    assert where.stdout.strip() == str(kpis) and "data as of" in where.output

    bad = analytics(database_url, kpis, "kpis", "--from", "2026-03-01", "--to", "2026-02-01")
    assert bad.exit_code == 2 and "before it starts" in bad.output

    _every_model_and_column_is_documented(kpis)


def _every_model_and_column_is_documented(kpis: Path) -> None:
    """What `dbt docs generate` shows analysts: each built table and each of its columns has a
    description in the project (a new column without one fails here)."""
    manifest = json.loads(ensure_manifest().read_text())
    documented = {
        (node["schema"], node["name"]): node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    with duckdb.connect(str(kpis), read_only=True) as conn:
        built = conn.sql(
            "SELECT table_schema, table_name, list(column_name ORDER BY ordinal_position)"
            " FROM information_schema.columns WHERE table_schema IN ('staging', 'marts')"
            " GROUP BY ALL"
        ).fetchall()
    assert {(schema, table) for schema, table, _ in built} == set(documented)
    for schema, table, columns in built:
        node = documented[(schema, table)]
        assert node["description"].strip(), f"{table} has no description"
        described = {name for name, column in node["columns"].items() if column["description"]}
        assert set(columns) == described, f"{table}: {set(columns) ^ described}"
