"""`orchestrator dev` from a fresh home: everything answers, and Ctrl-C stops all of it, the
embedded Postgres and Dagster's code servers included."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from tests.support import answers, start_dev_stack


def _processes_of(home: Path) -> list[psutil.Process]:
    """Every process whose command line names the home (Dagster's code servers carry the
    instance's directory in theirs)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if str(home) in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


def test_dev_starts_the_stack_and_ctrl_c_stops_all_of_it(orchestrator_home: Path) -> None:
    stack = start_dev_stack(orchestrator_home, secret="dev-test-secret")
    try:
        assert all(answers(url) for url in stack.health_urls)
        assert (orchestrator_home / "dagster_home" / "dagster.yaml").exists()
        assert (orchestrator_home / "pgdata" / "postmaster.pid").exists()
        code_servers = [
            p for p in _processes_of(orchestrator_home) if "api grpc" in " ".join(p.cmdline())
        ]
        assert code_servers, "the Dagster webserver and daemon run a code server each"
    finally:
        out = stack.stop()

    assert stack.process.returncode == 0, out
    assert f"Dagster UI       http://127.0.0.1:{stack.dagster_port}" in out
    assert not any(answers(url) for url in stack.health_urls)
    # The last holder let go of the embedded server, which shut down cleanly.
    pid_file = orchestrator_home / "pgdata" / "postmaster.pid"
    deadline = time.monotonic() + 30
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not pid_file.exists()
    # Nothing of the stack outlives it: Dagster's code servers start sessions of their own.
    assert [p.pid for p in _processes_of(orchestrator_home) if p.is_running()] == []
