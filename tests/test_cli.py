"""The `orchestrator` command line and the layering it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator_cli.main import cli
from orchestrator_core.settings import get_settings
from tests.conftest import JWT_SECRET

REPO = Path(__file__).resolve().parents[1]


def test_console_script_is_installed_with_its_subcommands() -> None:
    script = Path(sys.executable).parent / "orchestrator"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for command in ("serve", "db", "demo"):
        assert command in result.stdout


def test_serve_refuses_to_start_without_the_webhook_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUBSPOT_WEBHOOK_SECRET"}
    env["ORCHESTRATOR_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator_cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "HUBSPOT_WEBHOOK_SECRET is not set" in result.stderr


@pytest.mark.parametrize(
    ("jwt_secret", "reason"),
    [
        (None, "JWT_SECRET is not set"),
        ("short-but-random-8d7f", "JWT_SECRET is shorter than 32 characters"),
        ("change-me-change-me-change-me-change-me", "JWT_SECRET looks like a placeholder"),
        ("a" * 40, "JWT_SECRET looks like a placeholder"),
    ],
    ids=["missing", "short", "placeholder", "one-letter"],
)
def test_serve_refuses_to_start_without_a_real_jwt_secret(
    tmp_path: Path, jwt_secret: str | None, reason: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}
    env.update({"ORCHESTRATOR_HOME": str(tmp_path), "HUBSPOT_WEBHOOK_SECRET": "x"})
    if jwt_secret is not None:
        env["JWT_SECRET"] = jwt_secret
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator_cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert reason in result.stderr
    if jwt_secret is not None:
        assert jwt_secret not in result.stderr + result.stdout  # never echoed
    assert not (tmp_path / "pgdata").exists()  # refused before starting anything


def test_invalid_configuration_names_the_variable() -> None:
    get_settings.cache_clear()  # settings are read once per process
    try:
        result = CliRunner().invoke(
            cli,
            ["db", "upgrade"],
            env={"CORRELATION_WINDOW_SECONDS": "soon"},
            catch_exceptions=False,
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "CORRELATION_WINDOW_SECONDS" in result.output


def test_the_api_process_never_imports_dagster() -> None:
    code = (
        "import sys, orchestrator_cli.main, orchestrator_cli.serve, ingest_api.app;"
        "bad = sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('dagster', 'orchestrator_defs', 'sensors'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_serve_refuses_to_start_with_an_invalid_policy(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    good = (REPO / "policies" / "default.yaml").read_text()
    bad.write_text(good.replace("procurement:\n", "procurement:\n  thresold: 5\n", 1))
    env = {
        **os.environ,
        "POLICY_PATH": str(bad),
        "HUBSPOT_WEBHOOK_SECRET": "x",
        "JWT_SECRET": JWT_SECRET,
    }
    env["ORCHESTRATOR_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator_cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "invalid policy, refusing to start" in result.stderr
    assert "procurement.thresold" in result.stderr
