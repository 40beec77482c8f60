"""`orchestrator policy check`, through click's runner."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from orchestrator_cli.policy import policy
from orchestrator_core.settings import get_settings
from tests.policy.conftest import DEFAULT_POLICY, WritePolicy


def test_check_good_file() -> None:
    result = CliRunner().invoke(policy, ["check", str(DEFAULT_POLICY)])
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(DEFAULT_POLICY.read_bytes()).hexdigest()
    assert f"{DEFAULT_POLICY}: valid" in result.output
    assert "version: 2026-11-25.1" in result.output
    assert digest in result.output


def test_check_bad_file(policy_data: dict[str, Any], write_policy: WritePolicy) -> None:
    policy_data["procurement"]["threshold"] = -1
    path = write_policy(policy_data)
    result = CliRunner().invoke(policy, ["check", str(path)])
    assert result.exit_code == 1
    assert f"{path}: procurement.threshold: Input should be greater than 0" in result.output
    assert "sha256" not in result.output


def test_check_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(policy, ["check", str(tmp_path / "gone.yaml")])
    assert result.exit_code == 1
    assert "gone.yaml: file not found" in result.output


def test_check_defaults_to_policy_path(
    monkeypatch: pytest.MonkeyPatch, policy_data: dict[str, Any], write_policy: WritePolicy
) -> None:
    policy_data["version"] = "2027-01-02.3"
    monkeypatch.setenv("POLICY_PATH", str(write_policy(policy_data)))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(policy, ["check"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "version: 2027-01-02.3" in result.output
