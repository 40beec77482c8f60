"""`orchestrator dev` from a fresh home: everything answers, and Ctrl-C stops all of it, the
embedded Postgres included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import free_port


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


def test_dev_starts_the_stack_and_ctrl_c_stops_all_of_it(orchestrator_home: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "HUBSPOT_WEBHOOK_SECRET", "DAGSTER_HOME")
    }
    env["ORCHESTRATOR_HOME"] = str(orchestrator_home)
    api, dagster, sandbox = free_port(), free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator_cli",
            "dev",
            "--api-port",
            str(api),
            "--dagster-port",
            str(dagster),
            "--sandbox-port",
            str(sandbox),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    urls = [
        f"http://127.0.0.1:{api}/health",
        f"http://127.0.0.1:{dagster}/server_info",
        f"http://127.0.0.1:{sandbox}/_sandbox/health",
    ]
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not all(_answers(url) for url in urls):
            assert process.poll() is None, process.communicate()
            time.sleep(0.5)
        assert all(_answers(url) for url in urls)
        assert (orchestrator_home / "dagster_home" / "dagster.yaml").exists()
        assert (orchestrator_home / "pgdata" / "postmaster.pid").exists()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=90)

    assert process.returncode == 0, out + err
    assert "Dagster UI" in out and f":{dagster}" in out
    assert not any(_answers(url) for url in urls)
    # The last holder let go of the embedded server, which shut down cleanly.
    deadline = time.monotonic() + 30
    while (
        orchestrator_home / "pgdata" / "postmaster.pid"
    ).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not (orchestrator_home / "pgdata" / "postmaster.pid").exists()
