"""DuckDB with the postgres extension from the `duckdb-extension-postgres-scanner` wheel.

Nothing is ever downloaded: automatic installs are off and the extension repository points at
a closed loopback port, so a missing extension fails at once instead of reaching the network.
The wheel's build must match the engine exactly (both pinned at 1.5.5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import duckdb_extension_postgres_scanner

# Port 9 (discard) on loopback: an install attempt fails at once and offline.
NO_DOWNLOADS: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "custom_extension_repository": "http://127.0.0.1:9",
}


def postgres_scanner_path() -> Path:
    """The extension file shipped in the wheel, for the installed DuckDB version."""
    root = Path(duckdb_extension_postgres_scanner.__file__).parent / "extensions"
    path = root / f"v{duckdb.__version__}" / "postgres_scanner.duckdb_extension"
    if not path.is_file():
        shipped = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
        raise RuntimeError(
            f"duckdb {duckdb.__version__} has no matching postgres extension in"
            f" duckdb-extension-postgres-scanner (it ships {shipped}); pin both to one version"
        )
    return path


def load_postgres_scanner(conn: duckdb.DuckDBPyConnection) -> None:
    """LOAD the wheel's extension into `conn` (a no-op when already loaded)."""
    conn.execute(f"LOAD '{postgres_scanner_path()}'")


def connect(path: Path | str, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that cannot download anything, timestamps shown in UTC."""
    conn = duckdb.connect(str(path), read_only=read_only, config=dict(NO_DOWNLOADS))
    conn.execute("SET TimeZone = 'UTC'")  # a setting of the built-in ICU: not a connect option
    return conn
