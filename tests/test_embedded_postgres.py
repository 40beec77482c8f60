"""The embedded server: started on demand, shared by processes, stopped by the last one out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import psycopg

from orchestrator_core.db.embedded import SERVER_SETTINGS, start_embedded
from tests.conftest import JWT_SECRET, WEBHOOK_SECRET
from tests.support import (
    TEST_PASSWORD,
    delivery_body,
    hubspot_event,
    log_in,
    signed_headers,
    start_live_server,
)


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    return pid if psutil.pid_exists(pid) else None


def _orchestrator(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator_cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _embedded_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return {
        **env,
        "ORCHESTRATOR_HOME": str(home),
        "HUBSPOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "JWT_SECRET": JWT_SECRET,
    }


def test_db_upgrade_is_idempotent_and_stops_the_server_it_started(orchestrator_home: Path) -> None:
    env = _embedded_env(orchestrator_home)
    first = _orchestrator("db", "upgrade", env=env)
    second = _orchestrator("db", "upgrade", env=env)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "database at revision" in first.stdout
    assert first.stdout == second.stdout  # the same head, nothing left to apply
    assert "Running upgrade" in first.stderr and "Running upgrade" not in second.stderr
    pgdata = orchestrator_home / "pgdata"
    assert (pgdata / "PG_VERSION").exists()
    assert _postmaster_pid(pgdata) is None  # the last holder stopped it


def test_two_processes_share_one_server_and_the_last_one_stops_it(
    orchestrator_home: Path, tmp_path: Path
) -> None:
    home = orchestrator_home
    env = _embedded_env(home)
    pgdata = home / "pgdata"
    first = start_live_server(env=env, log_path=tmp_path / "a.log")
    try:
        second = start_live_server(env=env, log_path=tmp_path / "b.log")
        try:
            pid = _postmaster_pid(pgdata)
            assert pid is not None
            body = delivery_body([hubspot_event(objectId=77)])
            stored = httpx.post(
                first.webhook_url,
                content=body,
                headers=signed_headers(body, first.webhook_url, WEBHOOK_SECRET),
            )
            assert stored.status_code == 200
            # The other process reads what the first one wrote: one server, one database.
            envelope_id = stored.json()["events"][0]["envelope_id"]
            created = _orchestrator(
                "users",
                "create",
                "--email",
                "viewer@orchestrator.example",
                "--role",
                "viewer",
                env=env,
                stdin=TEST_PASSWORD + "\n",
            )
            assert created.returncode == 0, created.stderr
            viewer = log_in(second.base_url, "viewer@orchestrator.example", TEST_PASSWORD)
            event = httpx.get(f"{second.base_url}/api/events/{envelope_id}", headers=viewer)
            assert event.json()["object_id"] == 77
        finally:
            assert second.stop(signal.SIGTERM) == 0
        # The first holder is still there: the server must keep running.
        assert _postmaster_pid(pgdata) == pid
        assert httpx.get(f"{first.base_url}/health").status_code == 200
    finally:
        assert first.stop(signal.SIGINT) == 0
    deadline = time.monotonic() + 15
    while _postmaster_pid(pgdata) is not None:
        assert time.monotonic() < deadline, "the embedded server was not stopped"
        time.sleep(0.2)


def test_a_killed_holder_does_not_keep_the_server_alive_forever(
    orchestrator_home: Path, tmp_path: Path
) -> None:
    home = orchestrator_home
    env = _embedded_env(home)
    pgdata = home / "pgdata"
    crashed = start_live_server(env=env, log_path=tmp_path / "crashed.log")
    crashed.stop(signal.SIGKILL)
    assert _postmaster_pid(pgdata) is not None  # nobody stopped it

    # The next process forgets the dead holder, so when it exits the server stops.
    result = _orchestrator("db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 15
    while _postmaster_pid(pgdata) is not None:
        assert time.monotonic() < deadline, "the server outlived every live holder"
        time.sleep(0.2)


def test_the_embedded_server_allows_the_connections_two_batch_runs_need(tmp_path: Path) -> None:
    server = start_embedded(tmp_path / "pgdata")
    try:
        with psycopg.connect(server.get_uri("postgres")) as conn:
            row = conn.execute("SHOW max_connections").fetchone()
        assert row == (SERVER_SETTINGS["max_connections"],)
        assert int(SERVER_SETTINGS["max_connections"]) >= 200
    finally:
        server.cleanup()
    # Joining the same data directory again does not repeat the settings.
    server = start_embedded(tmp_path / "pgdata")
    server.cleanup()
    conf = (tmp_path / "pgdata" / "postgresql.conf").read_text()
    assert conf.count("max_connections = 200") == 1
