"""`orchestrator doctor`: each connector's mode and reachability, exit status, no secrets."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from orchestrator_cli.doctor import doctor
from tests.support import free_port
from tests.vendor_sandbox import CANARY, SandboxServer


def run_doctor(*args: str) -> tuple[int, dict[str, dict[str, str]], str]:
    result = CliRunner().invoke(doctor, ["--json", "--timeout", "2", *args])
    rows = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            rows[row["connector"]] = row
    return result.exit_code, rows, result.output


def test_without_credentials_everything_is_sandboxed_and_reachable(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_URL", sandbox.base_url)

    code, rows, _ = run_doctor()

    assert code == 0
    for vendor in ("hubspot", "airtable", "notion", "google"):
        assert rows[vendor]["mode"] == "sandbox"
        assert rows[vendor]["status"] == "ok"
        assert rows[vendor]["base_url"] == f"{sandbox.base_url}/{vendor}"
    assert (rows["openai"]["mode"], rows["openai"]["status"]) == ("rules", "not used")
    # Each check was a real authenticated call through the vendor's client.
    assert {r["vendor"] for r in sandbox.inspect("requests")["requests"]} >= {
        "hubspot",
        "airtable",
        "notion",
        "google",
    }


def test_a_live_connector_is_checked_with_its_credential_and_never_shows_it(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_URL", sandbox.base_url)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", CANARY)
    monkeypatch.setenv("HUBSPOT_HOST", sandbox.vendor_url("hubspot"))

    code, rows, output = run_doctor()
    text = CliRunner().invoke(doctor, ["--timeout", "2"]).output

    assert code == 0
    assert (rows["hubspot"]["mode"], rows["hubspot"]["status"]) == ("live", "ok")
    assert CANARY not in output and CANARY not in text
    assert "hubspot    live     ok" in text


def test_an_unreachable_configured_connector_fails_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("SANDBOX_URL", closed)
    monkeypatch.setenv("NOTION_TOKEN", CANARY)
    monkeypatch.setenv("NOTION_BASE_URL", f"{closed}/notion")

    code, rows, output = run_doctor()

    assert code == 1
    assert (rows["notion"]["mode"], rows["notion"]["status"]) == ("live", "unreachable")
    assert rows["hubspot"]["status"] == "unreachable"  # sandboxed: reported, not fatal
    assert "not usable: notion" in output
    assert CANARY not in output


def test_strict_also_fails_on_an_unreachable_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_URL", f"http://127.0.0.1:{free_port()}")

    assert run_doctor()[0] == 0
    code, _, output = run_doctor("--strict")
    assert code == 1
    assert "orchestrator sandbox" in output
