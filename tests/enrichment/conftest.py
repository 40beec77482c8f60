"""Fixtures for the enrichment tests: the sandbox (its fake OpenAI model) over real HTTP,
settings, logging; and the evaluation's figures at the end of the run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator_core.settings import Settings, get_settings
from tests.vendor_sandbox import SandboxServer

STUB_KEY = "sk-test-enrichment-0123456789"
# Lines `test_company_eval` leaves for the terminal summary.
EVAL_REPORT = pytest.StashKey[list[str]]()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    lines = config.stash.get(EVAL_REPORT, None)
    if lines:
        terminalreporter.write_sep("-", "enrichment accuracy")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def openai_base_url(sandbox: SandboxServer) -> str:
    """The fake model's base URL on the session's sandbox (gate included, no faults)."""
    return f"{sandbox.vendor_url('openai')}/v1"


def make_settings(**values: object) -> Settings:
    """Settings from these values only: no `.env`, no OPENAI_* from the environment."""
    values.setdefault("openai_api_key", None)
    values.setdefault("openai_base_url", None)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment for the CLI: no OPENAI_* variables, no `.env`, fresh cached settings,
    and the root logging configuration restored after `load_settings()` replaced it."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    get_settings.cache_clear()
    try:
        yield monkeypatch
    finally:
        get_settings.cache_clear()
        root.handlers[:] = handlers
        root.setLevel(level)
