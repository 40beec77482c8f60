"""Publishing the marts without a server: a build replaces the file only when it succeeds, an
open reader keeps reading the build it opened, a killed build's leftovers are cleaned up, and
the Postgres connection string given to DuckDB never holds the password."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from orchestrator_core.analytics.kpis import open_marts, read_build_info
from orchestrator_core.analytics.publish import staged_build
from orchestrator_core.analytics.source import PostgresSource

AS_OF = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _build(target: Path, value: int, *, fail: bool = False) -> None:
    with staged_build(target, policy_version="v1") as staged:
        staged.as_of = AS_OF
        with duckdb.connect(str(staged.path)) as conn:
            conn.execute("CREATE SCHEMA marts")
            conn.execute(f"CREATE TABLE marts.figure AS SELECT {value} AS value")
        if fail:
            raise RuntimeError("a dbt test failed")


def _value(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.sql("SELECT value FROM marts.figure").fetchone()
    assert row is not None
    return int(row[0])


def test_a_build_replaces_the_file_only_when_it_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "analytics" / "kpis.duckdb"
    _build(target, 1)
    reader = open_marts(target)
    assert reader is not None
    info = read_build_info(reader)
    assert info.built_at == AS_OF.replace(tzinfo=None) and info.policy_version == "v1"

    with pytest.raises(RuntimeError, match="a dbt test failed"):
        _build(target, 2, fail=True)
    _build(target, 3)

    # The reader opened before both builds still reads its own build, whole.
    assert _value(reader) == 1
    reader.close()
    fresh = open_marts(target)
    assert fresh is not None
    assert _value(fresh) == 3
    fresh.close()
    # Nothing is left beside the published file but the lock.
    assert sorted(p.name for p in target.parent.iterdir()) == [".kpis.duckdb.lock", "kpis.duckdb"]


def test_readers_in_one_process_read_at_once_and_each_sees_the_build_it_opened(
    tmp_path: Path,
) -> None:
    """Concurrent requests of one API process: each reader is its own DuckDB instance, so
    readers never share settings, and a reader opened after a rebuild sees the new file even
    while an older reader is still open."""
    target = tmp_path / "kpis.duckdb"
    _build(target, 1)
    errors: list[BaseException] = []
    values: list[int] = []

    def read() -> None:
        try:
            for _ in range(10):
                conn = open_marts(target)
                assert conn is not None
                values.append(_value(conn))
                conn.close()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and values == [1] * 80

    old = open_marts(target)
    assert old is not None
    _build(target, 2)
    new = open_marts(target)
    assert new is not None
    assert (_value(old), _value(new)) == (1, 2)
    old.close()
    new.close()


def test_a_killed_build_s_leftovers_go_with_the_next_build(tmp_path: Path) -> None:
    target = tmp_path / "kpis.duckdb"
    leftover = tmp_path / ".kpis.building-deadbeef.duckdb"
    leftover.write_bytes(b"half a build")
    (tmp_path / ".kpis.building-deadbeef.duckdb.wal").write_bytes(b"")
    _build(target, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kpis.duckdb.lock", "kpis.duckdb"]


def test_the_readers_connection_reaches_nothing_but_the_marts(tmp_path: Path) -> None:
    target = tmp_path / "kpis.duckdb"
    assert open_marts(target) is None
    _build(target, 1)
    conn = open_marts(target)
    assert conn is not None
    with pytest.raises(duckdb.Error):
        conn.execute("CREATE TABLE marts.other AS SELECT 1")
    with pytest.raises(duckdb.Error, match="disabled"):
        conn.execute(f"COPY marts.figure TO '{tmp_path / 'copy.csv'}'")
    with pytest.raises(duckdb.Error):
        conn.execute("SET enable_external_access = true")
    conn.close()


@pytest.mark.parametrize(
    ("url", "conninfo", "password"),
    [
        (
            "postgresql+psycopg2://orch:s3cr%40t@db.example:5433/orchestrator?sslmode=require",
            {"host": "db.example", "port": "5433", "dbname": "orchestrator", "user": "orch"},
            "s3cr@t",
        ),
        (
            "postgresql://postgres:@/orchestrator?host=/home/o/.orchestrator/pgdata",
            {"host": "/home/o/.orchestrator/pgdata", "dbname": "orchestrator"},
            None,
        ),
    ],
)
def test_the_connection_string_never_holds_the_password(
    url: str, conninfo: dict[str, str], password: str | None
) -> None:
    source = PostgresSource.from_url(url)
    for name, value in conninfo.items():
        assert f"{name}={value}" in source.conninfo
    assert "password" not in source.conninfo and "s3cr" not in source.conninfo
    assert source.environment().get("PGPASSWORD") == password
    assert source.environment()["KPI_PG_CONNINFO"] == source.conninfo
