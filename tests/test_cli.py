"""The `orchestrator` command line and the layering it promises."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from orchestrator_cli.main import cli
from orchestrator_core.db.urls import with_database
from orchestrator_core.settings import get_settings
from tests.conftest import JWT_SECRET, WEBHOOK_SECRET
from tests.support import (
    TEST_PASSWORD,
    add_user,
    delivery_body,
    hubspot_event,
    log_in,
    signed_headers,
    start_live_server,
)

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


# The API process builds on the shared core only: never the Dagster side, LangGraph or the
# vendor connectors (docs/architecture.md, "Layering").
NEVER_IN_THE_API = (
    "dagster",
    "dagster_postgres",
    "langgraph",
    "langchain_core",
    "langchain_openai",
    "orchestrator_defs",
    "sensors",
    "resources",
)


@pytest.fixture
def fresh_database(admin_url: str) -> Iterator[str]:
    """An empty database: the server under test applies every migration itself."""
    name = f"orchestrator_fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_the_running_api_process_never_imports_the_dagster_side(
    fresh_database: str, tmp_path: Path
) -> None:
    """`orchestrator serve` on a new database (migrating it), then a webhook, a login and the
    API's reads and a decision: every module the process imported, as Python reports it."""
    log_path = tmp_path / "serve.log"
    server = start_live_server(
        env={
            "DATABASE_URL": fresh_database,
            "HUBSPOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "JWT_SECRET": JWT_SECRET,
            "PYTHONPROFILEIMPORTTIME": "1",  # `python -X importtime`: one line per import
        },
        log_path=log_path,
    )
    try:
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            add_user(conn, "admin@orchestrator.example", "admin")
        body = delivery_body([hubspot_event("company.creation", objectId=9001)])
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            delivered = http.post(
                "/webhooks/hubspot",
                content=body,
                headers=signed_headers(body, server.webhook_url, WEBHOOK_SECRET),
            )
            assert delivered.status_code == 200, delivered.text
            headers = log_in(server.base_url, "admin@orchestrator.example", TEST_PASSWORD)
            for path in (
                "/api/events",
                "/api/runs",
                "/api/queue",
                "/api/approvals/pending",
                "/api/audit",
            ):
                assert http.get(path, headers=headers).status_code == 200, path
            decision = http.patch(
                "/api/approvals/1/decision", json={"decision": "approve"}, headers=headers
            )
            assert decision.status_code == 404
    finally:
        server.stop()
    imported = {
        line.split("|")[-1].strip()
        for line in log_path.read_text().splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert {"ingest_api.app", "orchestrator_core.records.approvals", "alembic"} <= imported
    leaked = sorted(m for m in imported if m.split(".")[0] in NEVER_IN_THE_API)
    assert leaked == []


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
