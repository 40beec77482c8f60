"""`orchestrator demo` from a fresh home: embedded Postgres, the API, the samples, a summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import free_port


def test_demo_replays_the_samples_and_is_idempotent(orchestrator_home: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HUBSPOT_WEBHOOK_SECRET")
    }
    env["ORCHESTRATOR_HOME"] = str(orchestrator_home)
    command = [sys.executable, "-m", "orchestrator_cli", "demo", "--port", str(free_port())]

    first = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "01-companies-created.json                        200  stored  7  duplicates  0" in out
    assert "04-redelivery-of-01.json                         200  stored  0  duplicates  3" in out
    assert "06-one-invalid-event.json                        422  stored  2" in out
    assert "event #1: portalId: Field required" in out
    assert "26 event envelopes stored" in out
    assert "'unrouted': 1" in out

    command[-1] = str(free_port())
    second = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert second.returncode == 0, second.stderr
    assert (
        "01-companies-created.json                        200  stored  0  duplicates  7"
        in second.stdout
    )
    assert "26 event envelopes stored" in second.stdout
