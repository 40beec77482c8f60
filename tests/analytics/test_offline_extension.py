"""DuckDB's postgres extension comes from its PyPI wheel and nothing is downloaded: in a
process with no network at all (a new network namespace, when the machine allows one), the
extension loads from the wheel, attaches the product's Postgres through its Unix socket, and
no extension lands in DuckDB's download directory."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from orchestrator_core.analytics.extension import postgres_scanner_path
from orchestrator_core.analytics.source import PostgresSource

PROBE = """
import json, sys
from orchestrator_core.analytics.extension import connect, load_postgres_scanner
conn = connect(":memory:", read_only=False)
load_postgres_scanner(conn)
loaded = conn.sql(
    "SELECT loaded, installed, install_path FROM duckdb_extensions()"
    " WHERE extension_name = 'postgres_scanner'").fetchone()
conn.execute(f"ATTACH '{sys.argv[1]}' AS pg (TYPE postgres, READ_ONLY)")
runs = conn.sql("SELECT count(*) FROM pg.orchestrator.workflow_runs").fetchone()[0]
try:
    conn.execute("INSTALL httpfs")
    installed_httpfs = True
except Exception:
    installed_httpfs = False
print(json.dumps({"loaded": loaded, "runs": runs, "installed_httpfs": installed_httpfs}))
"""


def _no_network_prefix() -> list[str]:
    """`unshare -n` (a network namespace with no interface up) when this machine allows it."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], check=False).returncode == 0:
        return [unshare, "-n"]
    return []


def test_the_extension_loads_from_the_wheel_without_any_network(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    assert postgres_scanner_path().is_file()
    assert "site-packages" in str(postgres_scanner_path())
    source = PostgresSource.from_url(database_url)
    host = conninfo_to_dict(source.conninfo).get("host", "")
    over_socket = str(host).startswith("/")
    prefix = _no_network_prefix() if over_socket else []  # a TCP server needs the network
    home = tmp_path / "home"
    home.mkdir()
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE, source.conninfo],
        capture_output=True,
        text=True,
        check=False,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin", **source.environment()},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout)
    assert result["loaded"][0] is True
    assert result["runs"] == 0
    # A download is refused: automatic installs are off and the repository is a closed port.
    assert result["installed_httpfs"] is False
    # DuckDB's download directory (~/.duckdb/extensions) stayed empty.
    assert not (home / ".duckdb").exists() or not any(
        (home / ".duckdb").rglob("*.duckdb_extension")
    )
