"""`orchestrator doctor`: every dependency (database, migrations, Dagster daemon, each vendor
connector's mode and reachability), the exit status, no secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from orchestrator_cli.doctor import doctor
from orchestrator_core.db.migrate import head_revision
from tests.support import free_port
from tests.vendor_sandbox import CANARY, SandboxServer


@pytest.fixture(autouse=True)
def _test_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


def run_doctor(*args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(doctor, ["--json", "--timeout", "2", *args])
    return result.exit_code, json.loads(result.stdout), result.output


def test_without_credentials_everything_is_sandboxed_and_reachable(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_URL", sandbox.base_url)

    code, report, _ = run_doctor()

    assert code == 0
    vendors = report["vendors"]
    for vendor in ("hubspot", "airtable", "notion", "google"):
        assert vendors[vendor]["mode"] == "sandbox"
        assert vendors[vendor]["reachability"] == "ok"
        assert vendors[vendor]["base_url"] == f"{sandbox.base_url}/{vendor}"
    assert (vendors["openai"]["mode"], vendors["openai"]["reachability"]) == (
        "not configured",
        "not used",
    )
    assert report["sandbox"]["status"] == "ok"
    # Each check was a real authenticated call to the vendor's API.
    assert {r["vendor"] for r in sandbox.inspect("requests")["requests"]} >= {
        "hubspot",
        "airtable",
        "notion",
        "google",
    }


def test_the_database_migrations_and_daemon_are_shown_and_strict_fails_on_the_daemon(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_URL", sandbox.base_url)

    code, report, _ = run_doctor()
    text = CliRunner().invoke(doctor, ["--timeout", "2"])

    assert code == 0
    assert report["database"]["status"] == "ok"
    assert report["migrations"]["status"] == "ok"
    assert report["migrations"]["revision"] == head_revision()
    assert report["dagster_daemon"]["status"] == "down"  # no daemon beats in the tests
    assert report["status"] == "degraded"
    lines = text.output.splitlines()
    assert any(line.split()[:2] == ["database", "ok"] for line in lines)
    assert any(line.split()[:2] == ["migrations", "ok"] for line in lines)
    assert any(line.split()[:2] == ["dagster_daemon", "down"] for line in lines)
    assert "overall: degraded" in text.output

    strict = CliRunner().invoke(doctor, ["--json", "--timeout", "2", "--strict"])
    assert strict.exit_code == 1
    assert "not usable: dagster_daemon" in strict.output


def test_an_unreachable_database_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:{CANARY}@127.0.0.1:{free_port()}/x")
    monkeypatch.setenv("SANDBOX_URL", f"http://127.0.0.1:{free_port()}")

    code, report, output = run_doctor()

    assert code == 1
    assert report["database"]["status"] == "down" and report["database"]["last_error"]
    assert report["migrations"]["status"] == "down"
    assert "not usable: database, migrations" in output
    assert CANARY not in output


def test_a_live_connector_is_checked_with_its_credential_and_never_shows_it(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_URL", sandbox.base_url)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", CANARY)
    monkeypatch.setenv("HUBSPOT_HOST", sandbox.vendor_url("hubspot"))

    code, report, output = run_doctor()
    text = CliRunner().invoke(doctor, ["--timeout", "2"]).output

    assert code == 0
    hubspot = report["vendors"]["hubspot"]
    assert (hubspot["mode"], hubspot["reachability"]) == ("live", "ok")
    assert CANARY not in output and CANARY not in text
    assert any(line.split()[:3] == ["hubspot", "live", "ok"] for line in text.splitlines())


def test_an_unreachable_configured_connector_fails_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("SANDBOX_URL", closed)
    monkeypatch.setenv("NOTION_TOKEN", CANARY)
    monkeypatch.setenv("NOTION_BASE_URL", f"{closed}/notion")

    code, report, output = run_doctor()

    assert code == 1
    notion = report["vendors"]["notion"]
    assert (notion["mode"], notion["reachability"]) == ("live", "unreachable")
    assert report["vendors"]["hubspot"]["reachability"] == "unreachable"  # sandboxed: not fatal
    assert "not usable: notion" in output
    assert CANARY not in output


def test_strict_also_fails_on_an_unreachable_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_URL", f"http://127.0.0.1:{free_port()}")

    assert run_doctor()[0] == 0
    code, report, output = run_doctor("--strict")
    assert code == 1
    assert report["sandbox"]["status"] == "down"
    assert "orchestrator sandbox" in report["sandbox"]["last_error"]
    assert "hubspot" in output.splitlines()[-1]
