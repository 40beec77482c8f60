"""Debian's PostgreSQL (the `postgresql` package, `make postgresql`) as a separate server for
the distributed tests: a fresh cluster in a temporary directory, listening on a free loopback
port with password (SCRAM) authentication, as a deployment's managed server would be reached.
Unlike the embedded server, the product's processes know it only by its URL.

Run as root, the server runs as the package's `postgres` system user (initdb and postgres
refuse root)."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support import free_port

SYSTEM_USER = "postgres"  # made by the Debian package


@dataclass(frozen=True)
class ExternalPostgres:
    port: int
    password: str
    version: str
    pid: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"


def debian_bin_dir() -> Path:
    """The newest installed `/usr/lib/postgresql/<version>/bin`."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError(
            "Debian's PostgreSQL is missing (/usr/lib/postgresql/*/bin/initdb): `make postgresql`"
            " (apt-get install postgresql)"
        )
    return found[-1].parent


@contextmanager
def debian_postgres(*, database: str, timeout: float = 60.0) -> Iterator[ExternalPostgres]:
    """A new server with an empty `database`, stopped (fast shutdown) and removed afterwards."""
    bin_dir = debian_bin_dir()
    as_root = os.geteuid() == 0
    user = pwd.getpwnam(SYSTEM_USER) if as_root else None
    root = Path(tempfile.mkdtemp(prefix="orchestrator-pg-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        data, sockets = root / "data", root / "sockets"
        data.mkdir(mode=0o700)
        sockets.mkdir(mode=0o700)
        password = secrets.token_urlsafe(18)
        password_file = root / "password"
        password_file.write_text(password)
        if user is not None:
            root.chmod(0o711)  # the server's user goes through, reads nothing else here
            for path in (data, sockets, password_file):
                os.chown(path, user.pw_uid, user.pw_gid)
        run_as = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd=root,
            timeout=timeout,
            **run_as,  # type: ignore[arg-type]
        )
        password_file.unlink()
        port = free_port()
        log = (root / "server.log").open("ab")
        process = subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={sockets}",
                "-c",
                "max_connections=60",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            **run_as,  # type: ignore[arg-type]
        )
        server = ExternalPostgres(
            port=port, password=password, version=bin_dir.parent.name, pid=process.pid
        )
        _wait_until_accepting(server, process, root / "server.log", timeout)
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        yield server
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # fast shutdown: roll back, disconnect, stop
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_accepting(
    server: ExternalPostgres, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited with {process.returncode}:\n{log.read_text()}")
        try:
            with psycopg.connect(server.url(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise RuntimeError(f"postgres did not accept connections:\n{log.read_text()}")
